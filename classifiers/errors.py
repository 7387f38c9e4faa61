"""Errors a person can fix, kept apart from the heavy modules so the CLI can catch them without loading
scikit-learn or spaCy first. Each message names the file (and line, where there is one) and the problem."""


class DataError(ValueError):
    """A data file cannot be used."""


class ModelError(ValueError):
    """A model directory cannot be used."""


class UntrustedTypeError(ModelError):
    """A model file contains a type outside the allow-list."""


class PatternError(ValueError):
    """A pattern file cannot be used."""
