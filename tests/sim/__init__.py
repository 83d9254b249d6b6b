"""Deterministic simulation of the whole platform under faults (issue 11): `python -m tests.sim --seed N`."""
