"""The warehouse's settings (the ``warehouse:`` section of a workspace's ``gridhub.yaml``).

They live beside the code that reads them; ``gridhub.config`` assembles them into the workspace model.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Privacy(_Strict):
    hmac_key_env: str = Field("GRIDHUB_HMAC_KEY", description="Environment variable holding the HMAC key.")


class WarehouseSettings(_Strict):
    path: str = Field("warehouse", description="Warehouse folder, relative to the workspace unless absolute.")
    keep_snapshots: int = Field(
        5,
        ge=1,
        description="Published snapshots always kept (the newest ones, counting the current one). An older "
        "snapshot is pruned only when it is also older than keep_days.",
    )
    keep_days: int = Field(
        30,
        ge=0,
        description="Snapshots published in the last this many days are kept whatever keep_snapshots says "
        "(0: keep by count only). The current snapshot is never pruned.",
    )
    min_free_mb: int | None = Field(
        None,
        ge=0,
        description="Free space (MB) a run needs in warehouse/, state/ and work/ before it starts; "
        "default: twice the current snapshot's size, at least 500 MB.",
    )
    row_count_drift: float = Field(0.5, gt=0, description="Largest allowed relative change per table.")
    privacy: Privacy = Field(Privacy(), description="The shared layer's keyed hashes.")
    organisation_grid: Literal["operating", "registered"] = Field(
        "operating",
        description="Which address gives an organisation its grid: operating = 经营地址 when bound, else 注册地址; "
        "registered = 注册地址 only.",
    )


class SizeRange(_Strict):
    """One size a grid type's norm allows: ``min`` to ``max`` (both included) of one measure."""

    measure: Literal["households", "residents", "organisations"] = Field(
        description="What is counted: households (户), residents (居住 persons) or organisations (单位)."
    )
    min: int = Field(ge=0, description="Smallest size within the norm.")
    max: int = Field(ge=0, description="Largest size within the norm.")

    @model_validator(mode="after")
    def _ordered(self) -> SizeRange:
        if self.min > self.max:
            raise ValueError(f"{self.measure}: min {self.min} is above max {self.max}")
        return self


#: The sizing norms of the published reports (shared/docs/domain.md): a basic grid 300–500 households, a
#: micro-grid 50–80 households, a dedicated grid about 1,000 people or 30 organisations ("about": ±20 %).
DEFAULT_GRID_NORMS: dict[str, tuple[SizeRange, ...]] = {
    "基础网格": (SizeRange(measure="households", min=300, max=500),),
    "微网格": (SizeRange(measure="households", min=50, max=80),),
    "专属网格": (
        SizeRange(measure="residents", min=800, max=1200),
        SizeRange(measure="organisations", min=24, max=36),
    ),
}


def describe_norms(norms: dict[str, tuple[SizeRange, ...]]) -> str:
    """``基础网格 households 300–500; 专属网格 residents 800–1200 or organisations 24–36``: norms in words."""
    return "; ".join(
        f"{t} " + (" or ".join(f"{r.measure} {r.min}–{r.max}" for r in ranges) or "no norm")
        for t, ranges in norms.items()
    )


def grid_norms_with_defaults(given: dict[str, list[SizeRange]] | None) -> dict[str, tuple[SizeRange, ...]]:
    """The norms in force: the defaults, each grid type ``given`` replacing its own (``[]``: no norm)."""
    return {**DEFAULT_GRID_NORMS, **{t: tuple(r) for t, r in (given or {}).items()}}


__all__ = [
    "DEFAULT_GRID_NORMS",
    "Privacy",
    "SizeRange",
    "WarehouseSettings",
    "describe_norms",
    "grid_norms_with_defaults",
]
