"""Nothing non-finite is ever written: the save itself refuses weights that are not finite
(an update can overflow them while the loss that drove it was finite)."""
import os

import keras
import numpy as np
import pytest

from trainer.checkpoint import Checkpoints
from trainer.loop import Stop, save


class _Run:
    """The parts of a trainer that `save` reads."""

    def __init__(self, folder):
        self.model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        self.optimizer = keras.optimizers.Adam()
        self.optimizer.build(self.model.trainable_variables)
        self.checkpoints = Checkpoints(str(folder), self.model, self.optimizer, 3, True)
        self.checkpoints.step.assign(7)


def test_a_save_refuses_weights_that_are_not_finite(tmp_path):
    t = _Run(tmp_path / "checkpoints")
    assert os.path.basename(save(t, "last")) == "ckpt-7"
    t.checkpoints.step.assign(8)
    kernel = t.model.layers[0].kernel
    kernel.assign(np.where(np.eye(3, 2) > 0, np.inf, kernel.numpy()))
    with pytest.raises(Stop) as info:
        save(t, "last")
    assert info.value.code == 1
    assert str(info.value).startswith("the weights are not finite at step 8 (epoch 1): training "
                                      "stopped. Nothing was saved after the fault; the last "
                                      f"checkpoint is {tmp_path}/checkpoints/last/ckpt-7.")
    assert sorted(os.listdir(tmp_path / "checkpoints" / "last")) == [
        "checkpoint", "ckpt-7.data-00000-of-00001", "ckpt-7.index"]


def test_pruning_keeps_the_newest_that_read_back(tmp_path):
    t = _Run(tmp_path / "c")
    for step in range(1, 6):
        t.checkpoints.step.assign(step)
        save(t, "last")
    names = sorted(os.listdir(tmp_path / "c" / "last"))
    assert names == ["checkpoint"] + [f"ckpt-{n}.{s}" for n in (3, 4, 5)
                                      for s in ("data-00000-of-00001", "index")]
    assert 'model_checkpoint_path: "ckpt-5"' in (tmp_path / "c" / "last" / "checkpoint").read_text()
