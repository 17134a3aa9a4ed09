"""`python -m plan`: see plan/cli.py."""

import sys

from plan.cli import main

sys.exit(main())
