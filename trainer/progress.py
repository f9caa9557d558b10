"""What a person sees while training: a live bar on a terminal, one line per epoch otherwise."""
from __future__ import annotations

import sys
import time


def _clock(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def rate_text(images_per_second: float) -> str:
    """A rate with the digits it needs: `1,234 img/s`, `2.5 img/s`, or for slow runs the
    seconds per image (`0 img/s` would say nothing was measured)."""
    if images_per_second >= 10:
        return f"{images_per_second:,.0f} img/s"
    if images_per_second >= 1:
        return f"{images_per_second:.1f} img/s"
    if images_per_second > 0:
        return f"{1 / images_per_second:,.1f} s/img"
    return "- img/s"


class Progress:
    def __init__(self, epochs: int, steps: int, batch: int, quiet: bool = False, stream=None):
        self.epochs, self.steps, self.batch, self.quiet = epochs, steps, batch, quiet
        self.stream = stream or sys.stdout
        self.live = self.stream.isatty() and not quiet
        self.last_draw = 0.0

    def start_epoch(self, epoch: int, first_step: int = 0) -> None:
        self.epoch, self.t0, self.first = epoch, time.time(), first_step

    def step(self, step_in_epoch: int, loss: float) -> None:
        if not self.live or time.time() - self.last_draw < 0.25:
            return
        self.last_draw = time.time()
        done = step_in_epoch - self.first
        rate = done * self.batch / max(time.time() - self.t0, 1e-9)
        left = (self.steps - step_in_epoch) * self.batch / max(rate, 1e-9)
        width = 24
        fill = int(width * step_in_epoch / max(self.steps, 1))
        self.stream.write(f"\repoch {self.epoch}/{self.epochs} [{'#' * fill}{'.' * (width - fill)}]"
                          f" {step_in_epoch}/{self.steps} loss {loss:.4f} {rate_text(rate)} "
                          f"ETA {_clock(left)}   ")
        self.stream.flush()

    def end_epoch(self, row: dict) -> None:
        if self.quiet:
            return
        shown = "  ".join(f"{k} {v:.4f}" for k, v in row.items()
                          if isinstance(v, float) and k not in ("wall_time", "images_per_second"))
        line = (f"epoch {row['epoch']}/{self.epochs}  {shown}  "
                f"{rate_text(row['images_per_second'])}  {_clock(row['wall_time'])}")
        self.stream.write(("\r" if self.live else "") + line + " " * 8 + "\n")
        self.stream.flush()

    def say(self, text: str) -> None:
        """A line for the person. A `note:` warns of something they must know (work that
        was lost or skipped, a setting that was changed): --quiet hides progress, never a
        note, and every note is also kept in the run's log."""
        warning = text.startswith("note:")
        if warning:
            from rundir import console
            console.record(text)
        if warning or not self.quiet:
            print(text, file=self.stream, flush=True)
