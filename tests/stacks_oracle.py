"""Talks to tests/js/oracle.mjs, which runs @stacks/transactions, so Python output can be compared
byte for byte with the reference implementation."""

import itertools
import json
import subprocess
from pathlib import Path

from addon.stacks import clarity as c

JS_DIR = Path(__file__).resolve().parent / "js"


class OracleError(Exception):
    """The JS library refused the request (its message is kept)."""


class JsOracle:
    def __init__(self):
        if not (JS_DIR / "node_modules" / "@stacks" / "transactions").is_dir():
            raise RuntimeError("tests/js/node_modules is missing: run ./dev setup")
        self._proc = subprocess.Popen(
            ["node", str(JS_DIR / "oracle.mjs")], cwd=JS_DIR, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True, bufsize=1,
        )
        self._ids = itertools.count()

    def call(self, op: str, **request):
        request_id = next(self._ids)
        self._proc.stdin.write(json.dumps({"id": request_id, "op": op, **request}) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError("the JS oracle exited; run `node tests/js/oracle.mjs` by hand to see why")
        reply = json.loads(line)
        assert reply["id"] == request_id
        if not reply["ok"]:
            raise OracleError(reply["error"])
        return reply["result"]

    def close(self):
        self._proc.stdin.close()
        self._proc.wait(timeout=10)


def to_tagged(v: c.ClarityValue) -> dict:
    match v:
        case c.Int(n):
            return {"t": "int", "v": str(n)}
        case c.UInt(n):
            return {"t": "uint", "v": str(n)}
        case c.Bool(b):
            return {"t": "bool", "v": b}
        case c.Buffer(b):
            return {"t": "buffer", "v": b.hex()}
        case c.StringAscii(s):
            return {"t": "ascii", "v": s}
        case c.StringUtf8(s):
            return {"t": "utf8", "v": s}
        case c.StandardPrincipal():
            return {"t": "principal", "v": v.address}
        case c.ContractPrincipal():
            return {"t": "principal", "v": v.contract_id}
        case c.NoneType():
            return {"t": "none"}
        case c.Some(x):
            return {"t": "some", "v": to_tagged(x)}
        case c.Ok(x):
            return {"t": "ok", "v": to_tagged(x)}
        case c.Err(x):
            return {"t": "err", "v": to_tagged(x)}
        case c.List(items):
            return {"t": "list", "v": [to_tagged(i) for i in items]}
        case c.Tuple(data):
            return {"t": "tuple", "v": {k: to_tagged(x) for k, x in data.items()}}
    raise TypeError(v)


def from_tagged(j: dict) -> c.ClarityValue:
    t, v = j["t"], j.get("v")
    simple = {"int": lambda: c.Int(int(v)), "uint": lambda: c.UInt(int(v)), "bool": lambda: c.Bool(v),
              "buffer": lambda: c.Buffer(bytes.fromhex(v)), "ascii": lambda: c.StringAscii(v),
              "utf8": lambda: c.StringUtf8(v), "principal": lambda: c.principal(v), "none": lambda: c.NONE}
    if t in simple:
        return simple[t]()
    wrappers = {"some": c.Some, "ok": c.Ok, "err": c.Err}
    if t in wrappers:
        return wrappers[t](from_tagged(v))
    if t == "list":
        return c.List([from_tagged(x) for x in v])
    if t == "tuple":
        return c.Tuple({k: from_tagged(x) for k, x in v.items()})
    raise ValueError(t)
