import sys

from consul_tokens.cli import main

sys.exit(main(sys.argv[1:]))
