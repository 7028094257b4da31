"""The base of every ``gridhub.yaml`` model: unknown keys are refused (a typo is an error, not a silent
default) and a loaded config cannot be changed."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
