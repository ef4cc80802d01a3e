"""Benchmarks: each prints figures and ratios measured side by side in one run (the machine is shared)."""
