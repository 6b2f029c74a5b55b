"""Start the kernel's writeback of freshly written bytes early (Linux `sync_file_range`).

Without it, a large upload sits dirty in the page cache until the final fsync, which then waits for
the whole file at once. Writing back while the rest still arrives overlaps disk with network, and the
fsync before publishing only has the tail left. Durability still comes from that fsync: this is only
a hint, and a no-op where the call does not exist.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

SYNC_FILE_RANGE_WRITE = 2


def _load():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        fn = libc.sync_file_range
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_sync_file_range = _load()


def start_writeback(fd: int, offset: int, length: int) -> None:
    """Ask the kernel to begin writing [offset, offset+length) to disk, without waiting for it."""
    if _sync_file_range is not None and length > 0:
        _sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE)  # errors only lose the hint
