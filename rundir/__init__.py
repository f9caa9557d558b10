"""The run directory: its layout, crash-safe writes, its lock, integrity checks, and
loading a finished run. The trainer writes runs; evaluate, predict, embed and export read
them; both import this package and neither imports the other."""
