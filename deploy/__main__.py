"""`python -m deploy`: see deploy/cli.py."""

import os
import signal
import sys


def _interrupted(signum: int, frame: object) -> None:
    os.write(2, b"deploy: interrupted\n")
    os._exit(130)


# Until the CLI runs, and again once it has returned, there is nothing to clean up: stop at once.
signal.signal(signal.SIGINT, _interrupted)
from deploy.cli import main  # noqa: E402 - the handler must be in place while boto3 imports

# While it runs, Ctrl-C is a KeyboardInterrupt, so an upload in flight is aborted first.
signal.signal(signal.SIGINT, signal.default_int_handler)
code = main()
signal.signal(signal.SIGINT, _interrupted)
sys.stdout.flush()
sys.stderr.flush()
# Not sys.exit: threads an interrupt left must not hold the exit, and teardown would restore the
# default SIGINT (a late Ctrl-C would kill it silently). Every pool is already shut down.
os._exit(code)
