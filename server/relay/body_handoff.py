"""Hand a blob PUT's body socket to a worker thread (uvicorn + httptools only).

Under plain uvicorn every body byte is parsed by httptools, copied into a bytearray, copied again into
an ASGI message and hashed and written in batches: about three copies and many event-loop wake-ups
per MiB, all under the GIL. For blob bytes the relay only needs "the next N bytes of this socket", so
`uvicorn_protocol.RelayHttpProtocol` offers the route a `BodyHandoff` (in `scope["extensions"]`): the route pauses the
transport, a worker thread receives the rest of the body straight into a reused buffer with
`recv_into`, hashes it while it is still in cache and writes it (`fs_blobs.receive_into_session`),
and the connection then goes back to uvicorn with a fresh parser for the next request.

Anything unusual (TLS, chunked bodies, pipelined requests, a body already complete) gets no handoff
and takes the ordinary ASGI path, as do other servers.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from collections.abc import Callable

EXTENSION = "relay.body_handoff"
MAX_THREADS = 64  # concurrent handed-off bodies; more fall back to the event loop path


class BodyHandoff:
    """One request's body, to be read from the socket by a worker thread."""

    _active = 0
    _active_lock = threading.Lock()

    def __init__(self, protocol, cycle, content_length: int):
        # protocol: uvicorn_protocol.RelayHttpProtocol; cycle: its RequestResponseCycle for this request
        self.protocol, self.cycle, self.content_length = protocol, cycle, content_length
        self.sock: socket.socket | None = None
        self.received_all = False  # the worker thread received the whole body

    def take(self) -> tuple[socket.socket, bytes, int] | None:
        """On the event loop: stop uvicorn reading; returns (socket, body bytes already parsed, bytes
        still to receive), or None when this body cannot be handed off (use request.stream())."""
        p, cycle = self.protocol, self.cycle
        if p.cycle is not cycle or not cycle.more_body or cycle.disconnected or p.transport.is_closing():
            return None
        if len(cycle.body) != p.body_seen:  # part of the body was already read through ASGI receive()
            return None
        raw = p.transport.get_extra_info("socket")
        if raw is None:
            return None
        with BodyHandoff._active_lock:
            if BodyHandoff._active >= MAX_THREADS:
                return None
            BodyHandoff._active += 1
        p.flow.pause_reading()  # uvicorn resumes reading once the response is complete
        if cycle.waiting_for_100_continue:
            p.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            cycle.waiting_for_100_continue = False
        prefix = bytes(cycle.body)
        cycle.body = bytearray()
        remaining = self.content_length - p.body_seen
        # A duplicate descriptor of the same connection: closing it later leaves uvloop's own intact.
        self.sock = socket.socket(fileno=os.dup(raw.fileno()))
        return self.sock, prefix, remaining

    async def receive(self, receiver: Callable[[socket.socket, bytes, int], bool]) -> bool | None:
        """Run `receiver(sock, prefix, remaining)` (returns whether the whole body arrived) in a worker
        thread, then give the connection back. None: no handoff, read the body the ordinary way."""
        taken = self.take()
        if taken is None:
            return None
        complete = False
        try:
            complete = await _in_thread(receiver, *taken)
        finally:
            self.finish(complete)
        return complete

    def finish(self, complete: bool) -> None:
        """On the event loop, after the worker thread: give the connection back to uvicorn."""
        with BodyHandoff._active_lock:
            BodyHandoff._active -= 1
        if self.sock is not None:
            self.sock.close()
        p, cycle = self.protocol, self.cycle
        if complete:
            # The old parser still waits for the body we consumed; the next request needs a new one.
            p.parser = p.new_parser()
            cycle.more_body = False
            self.received_all = True
        else:
            # Client gone (or silent too long): the stream position is lost, so is the connection.
            cycle.disconnected = True
            p.transport.close()


async def _in_thread(fn, *args):
    # A daemon thread of its own, not the shared pool: a body may take minutes and must not hold one of
    # the pool's threads (SQLite and disk calls queue behind them), nor keep the process from exiting.
    loop = asyncio.get_running_loop()
    future = loop.create_future()

    def settle(ok: bool, value) -> None:
        if not future.done():
            future.set_result(value) if ok else future.set_exception(value)

    def run() -> None:
        try:
            result = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting task
            loop.call_soon_threadsafe(settle, False, exc)
        else:
            loop.call_soon_threadsafe(settle, True, result)

    threading.Thread(target=run, name="relay-body", daemon=True).start()
    # Shielded: if the request task is cancelled (shutdown), the thread still owns the session until done.
    return await asyncio.shield(future)
