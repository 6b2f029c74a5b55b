"""One worker thread for everything slow (scrypt, hashing, packing, network, chain).

The UI thread enqueues tasks with `start(name, fn, *args)`; `fn(emit, *args)` runs on the worker and
reports through `emit(message)` with the typed messages of messages.py, which land on a queue. The UI
thread drains the queue in a bpy.app.timers callback (`drain`), bounded in count so one step stays
short. Headless (`bpy.app.background`, where timers never fire) `run_blocking` runs the same task on
the calling thread and applies its messages at once.
"""

import queue
import threading
import traceback

from . import messages as m
from .session import SESSION

_tasks: queue.Queue = queue.Queue()
_messages: queue.Queue = queue.Queue()
_thread: threading.Thread | None = None
_stop = object()
# bpy as a module is always "background"; bench/addon_ui sets this to drive the UI path (worker thread +
# drained queue) there, calling the timer step itself.
THREAD_IN_BACKGROUND = False


def _describe(error: BaseException) -> str:
    # Our own errors already say what to do; anything else is a bug, shown with where it happened.
    module = f".{type(error).__module__}."
    if ".farm." in module or ".stacks." in module or isinstance(error, (OSError, ValueError)):
        return str(error)
    where = traceback.extract_tb(error.__traceback__)[-1:]
    place = f" (at {where[0].filename.rsplit('/', 1)[-1]}:{where[0].lineno})" if where else ""
    return f"unexpected {type(error).__name__}: {error}{place}; please report it"


def _run(name: str, fn, args, emit, quiet: bool = False) -> None:
    """`quiet`: a background chore (following jobs) that shows nothing unless it fails."""
    if not quiet:
        emit(m.TaskStarted(name))
    try:
        text = fn(emit, *args)
    except Exception as error:  # every failure becomes a report that says what to do
        emit(m.TaskFailed(name, _describe(error)))
    else:
        if not quiet:
            emit(m.TaskFinished(name, text or ""))


_running = threading.Event()  # a task (quiet ones too) is running on the worker


def _loop() -> None:
    while True:
        item = _tasks.get()
        if item is _stop:
            return
        name, fn, args, quiet = item
        _running.set()
        try:
            _run(name, fn, args, _messages.put, quiet)
        finally:
            _running.clear()


def start(name: str, fn, *args, quiet: bool = False) -> None:
    """Run fn(emit, *args) on the worker thread (started on first use)."""
    global _thread
    if _thread is None or not _thread.is_alive():
        _thread = threading.Thread(target=_loop, name="render-farm-worker", daemon=True)
        _thread.start()
    _tasks.put((name, fn, args, quiet))


def run_blocking(name: str, fn, *args, after=None) -> None:
    """The same task on this thread, for headless use; its messages are applied as they come (then
    `after(SESSION)`, if given)."""
    def apply(message) -> None:
        SESSION.apply(message)
        if after is not None:
            after(SESSION)

    _run(name, fn, args, apply)


def drain(limit: int = 64) -> int:
    """Apply up to `limit` waiting messages to the session (UI thread); the number applied."""
    applied = 0
    while applied < limit:
        try:
            message = _messages.get_nowait()
        except queue.Empty:
            break
        SESSION.apply(message)
        applied += 1
    return applied


def busy() -> bool:
    return bool(SESSION.task) or _running.is_set() or not _tasks.empty()


def stop(timeout: float = 5.0) -> None:
    """Ask the worker to finish (after its current task) and wait a little; on unregister."""
    global _thread
    if _thread is not None and _thread.is_alive():
        _tasks.put(_stop)
        _thread.join(timeout)
    _thread = None
