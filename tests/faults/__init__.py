"""Fault tests (issue 12 §3): a package, so the platform they share (conftest.py) stops when they end."""
