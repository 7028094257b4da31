"""The one exception type of the sample generator."""

from __future__ import annotations

from warehouse.errors import UserError


class SampleError(UserError, ValueError):
    """The sample district cannot be made with the arguments given."""
