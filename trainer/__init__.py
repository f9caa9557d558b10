"""The parts of `train.py`: strategy, optimizer, step, checkpoints, run directory, progress."""
