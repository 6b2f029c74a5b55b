"""How a planned set of chunks is shown on a terminal: by `estimate` and by `submit` before it sends.

Not a command itself (cli.COMMANDS does not list it).
"""

from __future__ import annotations

from ..farm import estimate as model

MICRO = 1_000_000


def duration(seconds: float) -> str:
    hours, rest = divmod(round(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def show_chunks(result: model.Estimate, console, *, priced: bool = True) -> None:
    """The chunks table (frames, provider, chain fields, reward), then wall time and cost."""
    from rich.table import Table

    table = Table(title=f"chunks (safety factor {result.safety_factor:g}: estimated duration = predicted x "
                        f"{result.safety_factor:g}, render deadline = {model.RENDER_TIME_FACTOR} x that)")
    for column in ("frames", "provider", "complexity", "predicted", "estimated duration", "render deadline",
                   "reward STX"):
        table.add_column(column)
    for c in result.chunks:
        table.add_row(f"{c.frame_start}-{c.frame_end}", c.provider, str(c.complexity), duration(c.predicted_seconds),
                      duration(c.estimated_duration), duration(c.render_deadline_seconds), f"{c.reward / MICRO:g}")
    console.print(table)
    how = "each chunk at its provider's price (complexity x price per unit)" if priced else \
        "your reward split by frame count"
    console.print(f"wall time {duration(result.wall_seconds)} with chunks in parallel; cost "
                  f"{result.cost_micro_stx / MICRO:g} STX ({how})", soft_wrap=True)
