"""Typed progress events of the farm's flows.

A flow takes `on_event: Callable[[FarmEvent], None]` and calls it from the thread it runs on. A
terminal shows them with rich, the Blender add-on puts them on a queue its timer drains, a headless
run logs them. Events are plain frozen data, safe to pass between threads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    """A flow began a step; `text` is one line for a person."""

    name: str
    text: str
    job_id: int | None = None


@dataclass(frozen=True)
class UploadProgress:
    """Ciphertext bytes uploaded (or found on the relay already) out of the total."""

    done: int
    total: int
    job_id: int | None = None


@dataclass(frozen=True)
class UploadDone:
    blobs_total: int
    blobs_uploaded: int
    bytes_uploaded: int
    job_id: int | None = None


@dataclass(frozen=True)
class TransactionSent:
    """A chain write was mined (the flows wait for each)."""

    function: str
    job_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Planned:
    """The chunks a submission is about to create: providers, rewards, durations, cost and wall time.

    `priced`: each reward is its provider's price (complexity x price-per-unit), not a split lump."""

    estimate: object  # addon.farm.estimate.Estimate (not imported: events stay dependency-free)
    priced: bool


@dataclass(frozen=True)
class JobsCreated:
    job_ids: tuple[int, ...]
    batch_id: int
    envelopes: tuple[bytes, ...] = ()  # each chunk's sealed scene manifest, to keep for a resume


@dataclass(frozen=True)
class RenderProgress:
    """A provider's heartbeat: frames rendered of the chunk, and its estimate of the time left."""

    job_id: int
    frames_done: int
    frames_total: int
    eta_seconds: float | None = None


@dataclass(frozen=True)
class FramePublished:
    """The provider uploaded one finished frame (encrypted) and its preview."""

    job_id: int
    frame: int


@dataclass(frozen=True)
class FrameDownloaded:
    """The requester decrypted and verified one frame into `path`."""

    job_id: int
    frame: int
    path: str


FarmEvent = Step | UploadProgress | UploadDone | TransactionSent | JobsCreated | RenderProgress | FramePublished \
    | FrameDownloaded
EventSink = Callable[[FarmEvent], None]


def ignore(_event: FarmEvent) -> None:
    """The default sink: a caller that does not follow progress."""
