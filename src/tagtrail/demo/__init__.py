"""A generated product catalogue with ground truth, for the demo, tests and benchmarks."""
