"""Benchmarks of taskapi: ``python -m bench`` (see bench/README.md) and
``python -m bench.deep_pages``."""
