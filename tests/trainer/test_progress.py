"""trainer/progress.py: what a person sees while training."""
import io

import pytest

from rundir import console
from trainer.progress import Progress, rate_text


@pytest.mark.parametrize("rate, shown", [(4587.6, "4,588 img/s"), (10.0, "10 img/s"),
                                         (2.54, "2.5 img/s"), (0.4, "2.5 s/img"),
                                         (0.0004, "2,500.0 s/img"), (0.0, "- img/s")])
def test_a_rate_keeps_the_digits_it_needs(rate, shown):
    assert rate_text(rate) == shown


def test_a_slow_epoch_line_says_seconds_per_image_not_zero():
    out = io.StringIO()
    Progress(3, 10, 2, stream=out).end_epoch({"epoch": 1, "loss": 0.5, "wall_time": 75.0,
                                               "images_per_second": 0.25})
    assert out.getvalue() == "epoch 1/3  loss 0.5000  4.0 s/img  0:01:15" + " " * 8 + "\n"


def test_quiet_hides_progress_but_never_a_note(tmp_path, monkeypatch):
    monkeypatch.setattr(console, "_state", {})
    monkeypatch.setattr(console, "_run", {})
    (tmp_path / "logs").mkdir()
    console.keep_log_in(str(tmp_path))
    out = io.StringIO()
    quiet = Progress(1, 1, 1, quiet=True, stream=out)
    quiet.say("lenet5: 61,706 params")
    quiet.say("note: ckpt-50 is unreadable (truncated or corrupt); resuming from ckpt-40")
    assert out.getvalue() == ("note: ckpt-50 is unreadable (truncated or corrupt); resuming "
                              "from ckpt-40\n")
    assert (tmp_path / "logs" / "kspec.log").read_text() == (
        "WARNING:kspec:note: ckpt-50 is unreadable (truncated or corrupt); resuming from "
        "ckpt-40\n")
