"""Offline datasets used by the tests, tutorials and benchmarks."""
