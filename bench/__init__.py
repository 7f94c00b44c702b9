"""Benchmarks (not tests): scripts that print figures. See `filing.py`."""
