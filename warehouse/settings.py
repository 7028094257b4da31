"""The warehouse's settings (the ``warehouse:`` section of a workspace's ``gridhub.yaml``).

They live beside the code that reads them; ``gridhub.config`` assembles them into the workspace model.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


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


__all__ = ["Privacy", "WarehouseSettings"]
