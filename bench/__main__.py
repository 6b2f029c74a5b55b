"""Run benchmarks: `python -m bench` lists them, `python -m bench NAME [args]` runs one, `all` runs every one.

Each benchmark is a module bench/NAME.py with a main(argv) function.
"""

import importlib
import pkgutil
import sys
from pathlib import Path


def available() -> list[str]:
    here = Path(__file__).parent
    return sorted(m.name for m in pkgutil.iter_modules([str(here)]) if not m.name.startswith("_"))


def main(argv: list[str]) -> int:
    names = available()
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        print("\navailable:", ", ".join(names) or "none")
        return 0
    name, rest = argv[0], argv[1:]
    chosen = names if name == "all" else [name]
    for bench in chosen:
        if bench not in names:
            print(f"unknown benchmark '{bench}'; available: {', '.join(names)}", file=sys.stderr)
            return 2
        print(f"== {bench}")
        code = importlib.import_module(f"bench.{bench}").main(rest)
        if code:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
