"""An unauthenticated large-body flood against a relay, run in a process of its own (see bench/relay_bench.py).

Each flooding connection comes from another loopback address (127.0.0.2, as an attacker would come
from another IP), declares a 1 GiB blob PUT with no valid signature and streams zeros until the relay
hangs up, then reconnects at once, at the lowest CPU priority (an attacker's CPU is not the relay's;
on loopback they share the cores). The bench measures honest small requests' p99 latency while this
runs, against their p99 without it.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import time

FLOOD_SOURCE = "127.0.0.2"
DECLARED = 1 << 30
CHUNK = b"\0" * (1 << 20)


def _flood(port: int, connections: int, stop, counters) -> None:
    import selectors

    # On loopback the attacker shares the relay's two cores; on the internet its CPU is its own. Lowest
    # priority models that: it still floods as fast as the cores left over allow.
    os.nice(19)

    # A fresh timestamp and a well-formed signature that signs nothing: each request costs the relay a
    # signature recovery until it throttles this address's failures.
    head = (
        f"PUT /v1/uploads/{'a' * 64}?offset=0 HTTP/1.1\r\nhost: relay\r\ncontent-length: {DECLARED}\r\n"
        f"x-farm-signature: {os.urandom(32).hex()}{os.urandom(32).hex()}01\r\nx-farm-timestamp: {int(time.time())}\r\n"
        "x-farm-nonce: flood-flood-flood-1\r\nx-farm-content-sha256: UNSIGNED-PAYLOAD\r\n\r\n"
    ).encode()
    selector = selectors.DefaultSelector()

    def connect():
        s = socket.socket()
        s.bind((FLOOD_SOURCE, 0))
        s.connect(("127.0.0.1", port))
        s.sendall(head)
        s.setblocking(False)
        selector.register(s, selectors.EVENT_WRITE | selectors.EVENT_READ)
        counters[0] += 1

    for _ in range(connections):
        connect()
    while not stop.is_set():
        for key, events in selector.select(timeout=0.1):
            s = key.fileobj
            try:
                if events & selectors.EVENT_READ:
                    s.recv(65536)  # the relay's answer (401 or 429); it closes right after
                    raise ConnectionError
                counters[1] += s.send(CHUNK)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                selector.unregister(s)
                s.close()
                connect()
    for key in list(selector.get_map().values()):
        key.fileobj.close()


class Flood:
    """`with Flood(port):` floods for the duration of the block; `.requests`, `.bytes_sent` after."""

    def __init__(self, port: int, connections: int = 8):
        self.port, self.connections = port, connections
        self._stop = multiprocessing.Event()
        self._counters = multiprocessing.Array("q", 2)

    def __enter__(self):
        self._proc = multiprocessing.Process(
            target=_flood, args=(self.port, self.connections, self._stop, self._counters), daemon=True
        )
        self._proc.start()
        time.sleep(0.5)  # let it reach full rate
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._proc.join(10)
        if self._proc.is_alive():
            self._proc.kill()

    @property
    def requests(self) -> int:
        return self._counters[0]

    @property
    def bytes_sent(self) -> int:
        return self._counters[1]
