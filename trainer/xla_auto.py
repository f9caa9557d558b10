"""`--xla auto` on CPUs: time the training step both ways and keep the faster.

Whether XLA's CPU code beats TensorFlow's oneDNN kernels depends on the model and on
the machine: two runs of `python -m bench` on 2-core CPUs sold as the same kind put XLA
at 1.35x and at 0.70x for LeNet-5, and at 0.43x and 0.09x for ResNet-18 (the
docs/bench-cpu.json of commit 9fc8489, and the one measured with this module), so no
rule by device is right. A run long enough for a compile to pay times its own steps: a
window without XLA, then, after XLA has compiled, a window with it. Every step of both windows is a real training
step (nothing is thrown away); the cost is XLA's compile, and the slower setting's
window.

Not used where the choice must not depend on timing: `--deterministic` runs (their
numbers must repeat) and clusters of several workers (every worker must make the same
choice); there `auto` stays off on CPUs.
"""
from __future__ import annotations

import time

WINDOW_SECONDS = 1.0  # each setting is timed over at least this long ...
WINDOW_STEPS = 5  # ... and this many steps
MIN_RUN_SECONDS = 60.0  # a run with less left than this (without XLA) does not try XLA


class Measurement:
    """The two timing windows and the choice; fed one step's duration at a time.

    `phase`: "off" (timing the step without XLA), "on" (with XLA, compiled), then
    "done". `steps_left` is set before the first window ends (steps still to run
    after the current one)."""

    def __init__(self):
        self.phase = "off"
        self.steps_left = None
        self.rate = {}  # "off" / "on" -> steps per second
        self.verdict = None  # why the setting in effect was kept (once done)
        self._seconds, self._steps = 0.0, 0

    def add(self, seconds: float) -> str | None:
        """Counts one timed step; returns "try XLA", "keep XLA" or "drop XLA" when a
        window closes with that decision, None otherwise. A run too short for a compile
        to pay is known after `WINDOW_STEPS` steps: XLA is not tried."""
        self._seconds += seconds
        self._steps += 1
        if self.steps_left is not None:
            self.steps_left -= 1
        if self._steps < WINDOW_STEPS:
            return None
        rate = self._steps / self._seconds
        if self.phase == "off":
            left = (self.steps_left or 0) / rate
            if left < MIN_RUN_SECONDS:
                self.phase = "done"
                self.verdict = (f"auto: CPU, off: about {left:.0f} s of training left, too "
                                "little for an XLA compile to pay")
                return "drop XLA"
        if self._seconds < WINDOW_SECONDS:
            return None
        self.rate[self.phase] = rate
        self._seconds, self._steps = 0.0, 0
        if self.phase == "off":
            self.phase = "on"
            return "try XLA"
        self.phase = "done"
        on, off = self.rate["on"], self.rate["off"]
        faster = on > off
        self.verdict = (f"auto: CPU, measured {on:.1f} steps/s with XLA and {off:.1f} "
                        f"without: {'on' if faster else 'off'}")
        return "keep XLA" if faster else "drop XLA"

    def restart_window(self) -> None:
        """What trains changed (fine-tuning's next phase): the window starts over."""
        self._seconds, self._steps = 0.0, 0


def choose_xla(option: str, deterministic: bool = False,
               one_worker: bool = True) -> tuple[bool, str, bool]:
    """(XLA at the start, why, whether to time both ways): `--xla on|off` as asked; `auto`
    is on where a GPU or TPU trains; on CPUs it starts off and, where the choice may
    depend on timing (`one_worker`, not `deterministic`), times both ways."""
    from .strategy import accelerator
    if option != "auto":
        return option == "on", f"--xla {option}", False
    kind = accelerator()
    if kind:
        return True, f"auto: {kind}", False
    if deterministic:
        return False, "auto: CPU, off under --deterministic (a timed choice would not repeat)", \
            False
    if not one_worker:
        return False, "auto: CPU, off with several workers (each would time its own)", False
    return False, "auto: CPU, timing the step with and without XLA", True


def timed(call, x, y):
    """One step and its duration, waited for (the step's own time, not the input's)."""
    start = time.perf_counter()
    loss = call(x, y)
    float(loss)
    return loss, time.perf_counter() - start
