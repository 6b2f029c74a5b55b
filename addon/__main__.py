"""`python -m addon COMMAND …`: the add-on's headless CLI (see addon/cli.py)."""

import os
import sys

from .cli import main

code = main()
sys.stdout.flush()
os.dup2(2, 1)  # what Blender prints while the process exits ("Not freed memory blocks") stays off stdout
sys.exit(code)
