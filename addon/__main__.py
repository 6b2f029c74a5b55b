"""`python -m addon COMMAND …`: the add-on's headless CLI (see addon/cli.py)."""

import sys

from .cli import main

sys.exit(main())
