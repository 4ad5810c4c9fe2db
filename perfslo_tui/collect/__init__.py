"""Producers of run files: the measurement API, the pytest plugin, command benchmarks, importers."""
