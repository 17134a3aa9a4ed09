"""`python -m plan`: see plan/cli.py."""

import os
import signal
import sys


def _interrupted(signum: int, frame: object) -> None:
    # The plan writes nothing but its output, so it can stop at once: a KeyboardInterrupt raised
    # inside the mock engine's event loop or its RPC threads would be swallowed, print teardown
    # noise, or leave a thread the interpreter waits on forever.
    os.write(2, b"plan: interrupted\n")
    os._exit(130)


signal.signal(signal.SIGINT, _interrupted)

from plan.cli import main  # noqa: E402 - the handler must be in place while the SDK imports

code = main()
sys.stdout.flush()
sys.stderr.flush()
# Past this point the interpreter would restore the default SIGINT while it tears down, so a
# late Ctrl-C would kill it silently (-2); there is nothing left to clean up.
os._exit(code)
