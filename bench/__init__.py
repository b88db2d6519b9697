"""Benchmarks: each takes corpus paths and prints figures next to their floor."""
