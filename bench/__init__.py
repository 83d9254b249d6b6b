"""Benchmarks: each module runs with `python -m bench.<name>` and prints one JSON object per line."""
