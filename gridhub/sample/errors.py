"""The one exception type of the sample generator."""

from __future__ import annotations


class SampleError(ValueError):
    """The sample district cannot be made with the arguments given."""
