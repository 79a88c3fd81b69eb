"""``python -m minivelo <command> [options]``: the command line of :mod:`minivelo.cli`."""

import sys

from minivelo.cli import main

if __name__ == "__main__":
    sys.exit(main())
