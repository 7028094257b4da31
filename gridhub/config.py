"""The workspace configuration (``gridhub.yaml``), validated on load.

A workspace is one folder::

    gridhub.yaml      this file: feeds, reference data, warehouse settings
    landing/<feed>/   files departments hand in (or the portal writes)
    raw/              every received file, unchanged, content-addressed by SHA-256, plus manifest
    staging/<feed>/   parsed, typed rows (Parquet), one file per raw file
    quarantine/<feed>/ rows that could not be staged, with reason codes
    reference/        the standard address library, grids and divisions (四标)
    warehouse/        published snapshots and the ``current`` pointer
    state/            watermarks, entity-id registry, review decisions
    work/<run_id>/    intermediates of one resolve-and-publish run

Feeds are described here, never in code: adding a department is a config change. Secrets are never written
into the file: a value of the form ``${ENV_NAME}`` is read from the environment when the config loads.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from warehouse.schema import ENTITY_TYPES, STAGING_FIELDS

CONFIG_FILE = "gridhub.yaml"
FEED_NAME = re.compile(r"^[a-z][a-z0-9_]{1,62}$")
_ENV_REF = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(ValueError):
    """The workspace configuration is invalid; the message names the file, feed and key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FileSource(_Strict):
    kind: Literal["file"] = "file"
    glob: str = Field(description="Glob under the feed's landing folder, e.g. '*.csv'.")
    format: Literal["csv", "xlsx", "auto"] = "auto"
    encoding: str = Field("auto", description="auto | utf-8 | utf-8-sig | gb18030 | gbk | utf-16")
    delimiter: str = ","
    header_row: int = Field(1, ge=1, description="1-based line of the header.")
    sheet: str | int | None = Field(None, description="Sheet name or 0-based index for xlsx.")


class SqlSource(_Strict):
    kind: Literal["sql"] = "sql"
    url: str = Field(description="SQLAlchemy URL; use ${ENV} for credentials.")
    table: str | None = None
    query: str | None = None
    watermark: str | None = Field(None, description="Column that grows with every insert/update.")
    batch_size: int = Field(50_000, ge=1)

    @model_validator(mode="after")
    def _table_or_query(self) -> SqlSource:
        if bool(self.table) == bool(self.query):
            raise ValueError("give exactly one of 'table' or 'query'")
        return self


class Feed(_Strict):
    name: str
    department: str = Field(description="公安 / 民政 / 人社 / 市场监管 / 住建 / 应急管理 ...")
    description: str = ""
    source: FileSource | SqlSource = Field(discriminator="kind")
    entities: list[Literal["person", "organisation", "house", "facility"]]
    record_id: str = Field(description="Source column holding the record id.")
    columns: dict[str, str] = Field(description="Source header → canonical staging field.")
    value_maps: dict[str, dict[str, str]] = Field(default_factory=dict)
    date_formats: list[str] = Field(
        default_factory=lambda: ["%Y-%m-%d", "%Y%m%d", "%Y/%m/%d", "%Y年%m月%d日"]
    )
    required: list[str] = Field(default_factory=list, description="Canonical fields that must not be empty.")
    address_relation: Literal["户籍", "居住", "产权"] | None = Field(
        None, description="How persons relate to `address` when the feed has no address_relation column."
    )
    priority: int = Field(50, description="Survivorship: higher wins when sources disagree.")
    max_field_length: int = Field(4096, ge=16)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not FEED_NAME.match(v):
            raise ValueError("feed names are lower-case ascii, digits and '_' (used in paths and DAG ids)")
        return v

    @model_validator(mode="after")
    def _fields(self) -> Feed:
        unknown = sorted(set(self.columns.values()) - set(STAGING_FIELDS))
        if unknown:
            raise ValueError(
                f"columns map to unknown canonical fields {unknown}; known: {sorted(STAGING_FIELDS)}"
            )
        if self.record_id not in self.columns:
            raise ValueError(f"record_id column {self.record_id!r} must also appear in 'columns'")
        if self.columns[self.record_id] != "source_record_id":
            raise ValueError(f"record_id column {self.record_id!r} must map to 'source_record_id'")
        targets = list(self.columns.values())
        dupes = sorted({t for t in targets if targets.count(t) > 1})
        if dupes:
            raise ValueError(f"several columns map to the same field {dupes}")
        for f in self.value_maps:
            if f not in targets:
                raise ValueError(f"value_maps names field {f!r}, which no column maps to")
        for f in self.required:
            if f not in targets:
                raise ValueError(f"required field {f!r} is not mapped by any column")
        return self

    @property
    def fields(self) -> list[str]:
        """Canonical fields this feed stages, in contract order."""
        mapped = set(self.columns.values())
        return [f for f in STAGING_FIELDS if f in mapped]


class Reference(_Strict):
    addresses: str = "reference/standard_addresses.csv"
    grids: str = "reference/grids.csv"
    divisions: str = "reference/divisions.csv"
    crs: Literal["WGS-84", "GCJ-02"] = "WGS-84"
    grid_code_width: int = 15


class Privacy(_Strict):
    hmac_key_env: str = Field("GRIDHUB_HMAC_KEY", description="Environment variable holding the HMAC key.")


class WarehouseSettings(_Strict):
    path: str = "warehouse"
    keep_snapshots: int = Field(5, ge=1)
    row_count_drift: float = Field(0.5, gt=0, description="Largest allowed relative change per table.")
    privacy: Privacy = Privacy()


class Quality(_Strict):
    truth: str | None = Field(None, description="Ground-truth folder (sample district) for quality figures.")


_PASSWORD_HASH = re.compile(
    r"^(scrypt\$\d+\$\d+\$\d+|pbkdf2_sha256\$\d+)\$[A-Za-z0-9+/=_-]+\$[A-Za-z0-9+/=_-]+$"
)


class PortalDepartment(_Strict):
    """One department's sign-in for the upload portal (数据上报门户). Only a salted hash is stored."""

    password_hash: str = Field(description="Made by `gridhub portal-passwd`: scrypt$n$r$p$salt$hash.")
    feeds: list[str] | None = Field(
        None, description="Feeds this department may upload to; default: the feeds whose `department` is it."
    )

    @field_validator("password_hash")
    @classmethod
    def _hash(cls, v: str) -> str:
        if not _PASSWORD_HASH.match(v):
            raise ValueError(
                "not a password hash: make one with `gridhub portal-passwd` (never a plain password)"
            )
        return v


class Portal(_Strict):
    """The upload portal: departments and their hashed passwords, the upload size cap, the session secret."""

    departments: dict[str, PortalDepartment] = Field(description="Department name (as in feeds) → sign-in.")
    max_upload_bytes: int = Field(50 * 1024 * 1024, ge=1, description="Largest file a department may upload.")
    session_secret_env: str = Field(
        "GRIDHUB_PORTAL_SECRET",
        description="Environment variable holding the key that signs session cookies.",
    )
    session_hours: float = Field(8, gt=0, description="A sign-in lasts this long.")
    secure_cookies: bool = Field(False, description="Mark cookies Secure (set true when served over HTTPS).")


class WorkspaceConfig(_Strict):
    name: str
    district_code: str = Field(pattern=r"^\d{6}$")
    feeds: list[Feed]
    reference: Reference = Reference()
    warehouse: WarehouseSettings = WarehouseSettings()
    matching: dict = Field(default_factory=dict, description="Entity-resolution settings per entity type.")
    quality: Quality = Quality()
    portal: Portal | None = Field(None, description="The department upload portal; absent = portal off.")

    @model_validator(mode="after")
    def _unique_feeds(self) -> WorkspaceConfig:
        names = [f.name for f in self.feeds]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"feed names repeat: {dupes}")
        return self

    @model_validator(mode="after")
    def _portal_feeds(self) -> WorkspaceConfig:
        if self.portal is None:
            return self
        file_feeds = {f.name for f in self.feeds if isinstance(f.source, FileSource)}
        for dept, d in self.portal.departments.items():
            unknown = sorted(set(d.feeds or []) - file_feeds)
            if unknown:
                raise ValueError(
                    f"portal department {dept!r} lists {unknown}, which are not file feeds "
                    f"(file feeds: {sorted(file_feeds)})"
                )
        return self

    def portal_feeds(self, department: str) -> list[Feed]:
        """The file feeds ``department`` may see and upload to in the portal (none if it has no sign-in)."""
        if self.portal is None or department not in self.portal.departments:
            return []
        listed = self.portal.departments[department].feeds
        return [
            f
            for f in self.feeds
            if isinstance(f.source, FileSource)
            and (f.name in listed if listed is not None else f.department == department)
        ]

    def feed(self, name: str) -> Feed:
        for f in self.feeds:
            if f.name == name:
                return f
        raise ConfigError(
            f"no feed named {name!r}; configured feeds: {', '.join(f.name for f in self.feeds)}"
        )


def _expand_env(value):
    if isinstance(value, str):

        def sub(m: re.Match) -> str:
            name, default = m.group(1), m.group(2)
            if name in os.environ:
                return os.environ[name]
            if default is not None:
                return default
            raise ConfigError(f"environment variable {name} is referenced in {CONFIG_FILE} but not set")

        return _ENV_REF.sub(sub, value)
    if isinstance(value, dict):
        return {k: _expand_env(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v) for v in value]
    return value


def _describe_error(path: Path, raw: dict, err: ValidationError) -> str:
    lines = [f"{path}: invalid configuration"]
    for e in err.errors():
        loc = list(e["loc"])
        where = ".".join(str(p) for p in loc)
        if len(loc) >= 2 and loc[0] == "feeds" and isinstance(loc[1], int):
            feeds = raw.get("feeds") or []
            name = feeds[loc[1]].get("name", f"#{loc[1]}") if loc[1] < len(feeds) else f"#{loc[1]}"
            key = ".".join(str(p) for p in loc[2:] if not str(p).startswith("function"))
            where = f"feed '{name}'" + (f": {key}" if key else "")
        msg = e["msg"].removeprefix("Value error, ")
        lines.append(f"  - {where}: {msg}")
    return "\n".join(lines)


def load_config(path: str | Path) -> WorkspaceConfig:
    """Read and validate ``gridhub.yaml``; raise :class:`ConfigError` naming the feed and key on any fault."""
    path = Path(path)
    if path.is_dir():
        path = path / CONFIG_FILE
    if not path.exists():
        raise ConfigError(
            f"{path}: no workspace configuration here (run `gridhub sample --out DIR` to make one)"
        )
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    raw = _expand_env(raw)
    try:
        return WorkspaceConfig.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(_describe_error(path, raw, e)) from None


__all__ = [
    "ENTITY_TYPES",
    "CONFIG_FILE",
    "ConfigError",
    "Feed",
    "FileSource",
    "Portal",
    "PortalDepartment",
    "SqlSource",
    "WorkspaceConfig",
    "load_config",
]
