"""Side-by-side benchmarks: every figure is a ratio of two things measured in one run."""
