"""The farm commands' terminal output: the flows' events as lines and bars, and the --wait loop.

Not a command itself (cli.COMMANDS does not list it).
"""

from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

POLL_S = 2.0
console = Console(stderr=True, highlight=False)


class EventPrinter:
    """An EventSink: steps as lines, the upload as a bar."""

    def __init__(self):
        self.upload = None

    def __call__(self, event) -> None:
        from ..farm import events

        if isinstance(event, events.Step):
            console.print(f"[cyan]{event.name}[/] {event.text}")
        elif isinstance(event, events.UploadProgress):
            if self.upload is None:
                self.upload = Progress(TextColumn("uploading"), BarColumn(), MofNCompleteColumn(), console=console,
                                       transient=True)
                self.upload.start()
                self.task = self.upload.add_task("upload", total=event.total)
            self.upload.update(self.task, completed=event.done, total=event.total)
        elif isinstance(event, events.UploadDone):
            if self.upload is not None:
                self.upload.stop()
                self.upload = None
            console.print(f"uploaded {event.blobs_uploaded} of {event.blobs_total} blobs "
                          f"({event.bytes_uploaded:,} bytes; the relay had the rest)")
        elif isinstance(event, events.Planned):
            from .plan_display import show_chunks

            show_chunks(event.estimate, console, priced=event.priced)
        elif isinstance(event, events.TransactionSent):
            console.print(f"[green]mined[/] {event.function} {', '.join(map(str, event.job_ids))}")


def follow_until_done(requester, job_list, contract_id: str, job_ids: list[int], *, deadline: float,
                      auto_approve: bool = True) -> int:
    """Poll until every chunk is downloaded (0) or ended without frames / the deadline passed (1)."""
    from ..farm.follow import Follower

    follower = Follower(requester, job_list, contract_id, auto_approve=auto_approve)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[state]}"),
               TimeElapsedColumn())
    with Progress(*columns, console=console) as bar:
        tasks = {}
        while True:
            states = follower.poll(job_ids)
            for state in states:
                record = state.record
                if record.job_id not in tasks:
                    tasks[record.job_id] = bar.add_task(f"job {record.job_id} ({record.frame_start}-"
                                                        f"{record.frame_end})", total=state.frames_total, state="")
                bar.update(tasks[record.job_id], completed=round(state.progress * state.frames_total),
                           state=state.state)
                if state.note:
                    bar.console.print(f"job {record.job_id}: {state.note}")
            if states and all(s.finished for s in states):
                break
            if time.monotonic() >= deadline:
                console.print("[red]error:[/] not finished in time; `status --wait` carries on following")
                return 1
            time.sleep(POLL_S)
    missing = [s.record.job_id for s in states if not s.record.downloaded]
    if missing:
        print(f"error: jobs {missing} ended without frames ({', '.join(s.state for s in states)}); "
              "their escrow went back to the wallet", file=sys.stderr)
        return 1
    print(f"all frames written ({len(states)} chunks)")
    return 0
