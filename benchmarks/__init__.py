"""Benchmarks: ``python -m benchmarks [name ...]`` runs them and prints ratios.

Each ``bench_*.py`` module has ``run() -> list[dict]``; every row carries the
measured value, the baseline measured in the same run, their ratio and the
target, because these machines are shared and noisy and absolute figures from
different runs do not compare.
"""
