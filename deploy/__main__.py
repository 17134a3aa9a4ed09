"""`python -m deploy`: see deploy/cli.py."""

import sys

try:
    from deploy.cli import main

    sys.exit(main())
except KeyboardInterrupt:  # also while boto3 is still importing
    print("deploy: interrupted", file=sys.stderr)
    sys.exit(130)
