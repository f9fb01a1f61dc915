"""Evaluating, tuning and exporting routing profiles."""
