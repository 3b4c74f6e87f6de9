"""Experiments: one PTM, one dataset, several reuse methods over several seeds."""
