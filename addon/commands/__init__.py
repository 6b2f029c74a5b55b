"""Sub-commands of the headless CLI, one module each (see addon/cli.py)."""
