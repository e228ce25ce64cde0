"""Benchmarks against the bundled sandbox; `python bench/bench_vs_script.py all` prints the current table."""
