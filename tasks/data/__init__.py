"""Data for training: sources (built-in, TFDS, folders), the input pipeline, checks."""
from .sources import DataError, Source, load_source

__all__ = ["DataError", "Source", "load_source"]
