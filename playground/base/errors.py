"""Errors shared by every layer."""


class SourceError(ValueError):
    """A problem in an input file, already formatted as one line with its location."""
