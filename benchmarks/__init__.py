"""Benchmarks and the replay simulator (outside the integration)."""
