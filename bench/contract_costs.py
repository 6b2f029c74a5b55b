"""Execution cost of each render-farm public function as a share of the Stacks block limit.

Runs bench/contract_costs.mjs (simnet, the real Clarity cost model) and prints its table.

    .venv/bin/python -m bench.contract_costs [--json]
"""

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).with_name("contract_costs.mjs")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.contract_costs", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the measurements as JSON")
    args = parser.parse_args(argv)
    node = shutil.which("node")
    if node is None:
        print("error: Node.js 20+ is required (apt-get install nodejs npm), then run ./dev setup", file=sys.stderr)
        return 2
    if not (SCRIPT.parent.parent / "contract" / "node_modules" / "@stacks" / "clarinet-sdk").is_dir():
        print("error: contract/node_modules is missing: run ./dev setup", file=sys.stderr)
        return 2
    command = [node, str(SCRIPT)] + (["--json"] if args.json else [])
    return subprocess.run(command, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
