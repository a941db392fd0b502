"""Benchmarks, run on demand (`make bench` or `python -m bench [name]`), never in the tests.

Each bench/bench_*.py module has a ``main()`` that prints its measurements and the ratios
between implementations measured in the same run.
"""
