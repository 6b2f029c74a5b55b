"""Signing and serialization throughput of the Python Stacks client as a ratio to @stacks/transactions.

Both sides do the same work in the same run: serialize and deserialize the arguments of a 50-chunk
`create-jobs` call, and build + sign contract calls carrying them. The Python client caches address
encodings and validated names (they repeat in real traffic, as here: one provider for every chunk).
Usage: python -m bench stacks_codec [--n N] [--sign N]
"""

import argparse
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from addon.stacks import clarity as c  # noqa: E402
from addon.stacks import transactions as tx  # noqa: E402
from tests.stacks_oracle import JsOracle, to_tagged  # noqa: E402

KEY = "753b7cc01a1a2e86221266a154af739463fce51219d97e4f856cd7200c3bd2a601"
ADDR = "ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM"


def workload() -> c.ClarityValue:
    chunk = lambda i: c.Tuple({  # noqa: E731
        "provider": c.principal("ST2JHG361ZXG51QTKY2NQCVBPPRRE2KZB1HR05NNC"),
        "first-frame": c.UInt(i * 10), "last-frame": c.UInt(i * 10 + 9), "reward": c.UInt(1_000_000 + i),
        "complexity": c.UInt(300), "manifest-hash": c.Buffer(bytes([i]) * 32), "deadline": c.UInt(7200),
    })
    return c.List([chunk(i) for i in range(50)])


def timed(fn, n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        fn(i)
    return time.perf_counter() - start


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench stacks_codec", description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="serialize/deserialize repetitions")
    parser.add_argument("--sign", type=int, default=500, help="signed transactions to build")
    args = parser.parse_args(argv)

    value = workload()
    data = c.serialize(value)
    py = {
        "serialize": timed(lambda i: c.serialize(value), args.n),
        "deserialize": timed(lambda i: c.deserialize(data), args.n),
        "sign": timed(lambda i: tx.make_contract_call(ADDR, "render-farm", "create-job", [value], private_key=KEY,
                                                      nonce=i, fee=1000, network="testnet"), args.sign),
    }
    oracle = JsOracle()
    try:
        oracle.call("bench", value=to_tagged(value), n=50, nSign=10, privateKey=KEY, contractAddress=ADDR)  # warm-up
        js = oracle.call("bench", value=to_tagged(value), n=args.n, nSign=args.sign, privateKey=KEY,
                         contractAddress=ADDR)
    finally:
        oracle.close()
    js = {"serialize": js["serializeSecs"], "deserialize": js["deserializeSecs"], "sign": js["signSecs"]}

    table = Table(title=f"Stacks codec, 50-chunk create-jobs arguments ({len(data)} bytes)")
    for column in ("work", "Python ops/s", "stacks.js ops/s", "Python / stacks.js"):
        table.add_column(column, justify="right")
    for work, count in (("serialize", args.n), ("deserialize", args.n), ("build + sign tx", args.sign)):
        key = work.split()[0] if work != "build + sign tx" else "sign"
        py_rate, js_rate = count / py[key], count / js[key]
        table.add_row(work, f"{py_rate:,.0f}", f"{js_rate:,.0f}", f"{py_rate / js_rate:.2f}×")
    Console().print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
