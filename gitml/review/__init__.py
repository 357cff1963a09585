"""Reviewing a change: what it did to the runs, as plots (and diffs and reports)."""
