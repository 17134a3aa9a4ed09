"""`python -m plan`: see plan/cli.py."""

import sys

try:
    from plan.cli import main

    sys.exit(main())
except KeyboardInterrupt:  # also while the SDK is still importing
    print("plan: interrupted", file=sys.stderr)
    sys.exit(130)
