"""Dynamic provider failures as one line in `pulumi up`.

Pulumi's Python dynamic provider host reports any exception a provider raises as
`traceback.format_exc()` (pulumi/dynamic/__main__.py, `_abort_with_traceback`), and the CLI
prints that text whole under the resource: eight frames of SDK and gRPC plumbing before the one
line that matters. `format_exc` honours `sys.tracebacklimit`; at 0 it prints the exception line
alone. The host calls a provider's `configure` once, when it loads it, and only there, so this
runs in the provider process only, never in the program or a test.
"""

from __future__ import annotations

import sys


def one_line_failures() -> None:
    sys.tracebacklimit = 0
