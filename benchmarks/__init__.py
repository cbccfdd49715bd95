"""Benchmarks: the Benchmark interface, tabular and surrogate benchmarks, loaders.

``benchmarks/perf/`` holds the performance scripts whose results are recorded in
``docs/PERFORMANCE.md``.
"""
