"""Benchmark scripts that print numbers (no assertions); run them from the repository root as
``python -m bench.<name>``."""
