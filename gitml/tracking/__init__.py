"""Experiment tracking: runs, their params, metrics and tags, stored as files under ``.gitml/runs/``."""
