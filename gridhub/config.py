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

import ipaddress
import os
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from connectors.feeds import Feed, FileSource, SqlSource
from gridhub import env
from gridhub.config_alerts import Alerts, Smtp  # noqa: F401  (part of the config's public models)
from gridhub.config_base import Strict as _Strict  # unknown keys refused, frozen
from gridhub.config_legal_reps import LegalRepresentatives
from gridhub.layout import CONFIG_FILE, REFERENCE_DIR
from matching.reference import (
    ADDRESS_LIBRARY_COLUMNS,
    ADDRESSES_FILE,
    DIVISION_COLUMNS,
    DIVISIONS_FILE,
    GRID_COLUMNS,
    GRIDS_FILE,
)
from warehouse.errors import UserError
from warehouse.schema import GRID_TYPES
from warehouse.settings import (
    DEFAULT_GRID_NORMS,
    SizeRange,
    WarehouseSettings,
    describe_norms,
    grid_norms_with_defaults,
)

_ENV_REF = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(UserError, ValueError):
    """The workspace configuration is invalid; the message names the file, feed and key."""


#: Canonical columns of each reference file (``reference.<kind>``), from :mod:`matching.reference`.
REFERENCE_COLUMNS: dict[str, tuple[str, ...]] = {
    "addresses": ADDRESS_LIBRARY_COLUMNS,
    "grids": GRID_COLUMNS,
    "divisions": DIVISION_COLUMNS,
}
#: Each reference file's default path, relative to the workspace.
REFERENCE_DEFAULTS = {
    "addresses": f"{REFERENCE_DIR}/{ADDRESSES_FILE}",
    "grids": f"{REFERENCE_DIR}/{GRIDS_FILE}",
    "divisions": f"{REFERENCE_DIR}/{DIVISIONS_FILE}",
}


class ReferenceFile(_Strict):
    """One reference file: where it is, how its headers map to the canonical columns, its text encoding.

    In ``gridhub.yaml`` either a path string (``reference/grids.csv``) or a mapping with ``path``, ``columns``
    and ``encoding``. See docs/reference-data.md for the canonical columns of each file.
    """

    path: str = Field(description="CSV file, relative to the workspace folder unless absolute.")
    columns: dict[str, str] = Field(
        default_factory=dict,
        description="The file's own header → canonical column, for headers that differ from the canonical "
        "names (e.g. `{网格编码: grid_code, grid_name: name}`); other headers are read as they are.",
    )
    encoding: Literal["auto", "utf-8", "gb18030"] = Field(
        "auto",
        description="Text encoding: `auto` reads UTF-8 (with or without BOM), else GB18030. As for feeds, "
        "`gbk` and `gb2312` are read as GB18030 (their superset) and `utf-8-sig` as `utf-8`.",
    )

    @field_validator("encoding", mode="before")
    @classmethod
    def _encoding_alias(cls, value: object) -> object:  # a feed's names for them (docs/feeds.md)
        name = value.strip().lower() if isinstance(value, str) else ""
        return {"gbk": "gb18030", "gb2312": "gb18030", "utf-8-sig": "utf-8"}.get(name, name or value)

    def __fspath__(self) -> str:
        """The file's path as written, so code that took ``reference.<kind>`` as a path string still works."""
        return self.path


def _file(kind: str) -> ReferenceFile:
    return ReferenceFile(path=REFERENCE_DEFAULTS[kind])


class Reference(_Strict):
    """The reference data (四标): the standard address library, the grids, the divisions."""

    addresses: ReferenceFile = Field(
        default_factory=lambda: _file("addresses"),
        description="The standard address library (标准地址库): a path, or `{path, columns, encoding}`.",
    )
    grids: ReferenceFile = Field(
        default_factory=lambda: _file("grids"),
        description="The grids (网格) with their WKT polygons: a path, or `{path, columns, encoding}`.",
    )
    divisions: ReferenceFile = Field(
        default_factory=lambda: _file("divisions"),
        description="The divisions (行政区划, optional file): a path, or `{path, columns, encoding}`.",
    )
    crs: Literal["WGS-84", "GCJ-02"] = Field(
        "WGS-84", description="Coordinate system of the feeds' lon/lat (GCJ-02 is converted to WGS-84)."
    )
    grid_code_width: int = Field(
        15, ge=6, description="Digits of a basic grid's code (micro grids have 3 more)."
    )

    @field_validator("addresses", "grids", "divisions", mode="before")
    @classmethod
    def _path_or_mapping(cls, v: object) -> object:
        return {"path": v} if isinstance(v, str) else v

    @model_validator(mode="after")
    def _canonical_targets(self) -> Reference:
        for kind, canonical in REFERENCE_COLUMNS.items():
            spec: ReferenceFile = getattr(self, kind)
            unknown = sorted(set(spec.columns.values()) - set(canonical))
            if unknown:
                raise ValueError(
                    f"reference.{kind}.columns maps to unknown columns {unknown}; "
                    f"the canonical columns are {list(canonical)}"
                )
            targets = list(spec.columns.values())
            dupes = sorted({t for t in targets if targets.count(t) > 1})
            if dupes:
                raise ValueError(f"reference.{kind}.columns maps several headers to {dupes}")
        return self


class Quality(_Strict):
    """Quality figures of a run, measured against a ground truth where there is one (the sample district)."""

    truth: str | None = Field(None, description="Ground-truth folder (sample district) for quality figures.")


class PublishGate(_Strict):
    """The publish gate (发布审批): a risky run waits for a person's approval before it is published.

    Risky: it would merge, split or retire many entities, or its quarantine share jumps (docs/airflow.md).
    """

    enabled: bool = Field(
        False,
        description="Hold risky runs for approval: in Airflow at the `approve_publish` task (Required Actions "
        "page), in `gridhub run` until `--approve` is given. Off by default.",
    )
    max_entity_change_share: float = Field(
        0.05,
        gt=0,
        le=1,
        description="Hold a run that would merge, split or retire more than this share of one entity type's "
        "published entities (0.05 = 5 %).",
    )
    max_quarantine_jump: float = Field(
        0.05,
        gt=0,
        le=1,
        description="Hold a run whose share of quarantined rows is more than this much above the previous "
        "published run's (0.05 = 5 percentage points), overall or in one feed the previous run read too.",
    )


_PASSWORD_HASH = re.compile(
    r"^(scrypt\$\d+\$\d+\$\d+|pbkdf2_sha256\$\d+)\$[A-Za-z0-9+/=_-]+\$[A-Za-z0-9+/=_-]+$"
)


def _password_hash(v: str) -> str:
    if not _PASSWORD_HASH.match(v):
        raise ValueError(
            "not a password hash: make one with `gridhub portal-passwd` (never a plain password)"
        )
    return v


class PortalDepartment(_Strict):
    """One department's sign-in for the upload portal (数据上报门户). Only a salted hash is stored."""

    password_hash: str = Field(description="Made by `gridhub portal-passwd`: scrypt$n$r$p$salt$hash.")
    feeds: list[str] | None = Field(
        None, description="Feeds this department may upload to; default: the feeds whose `department` is it."
    )

    _hash = field_validator("password_hash")(lambda v: _password_hash(v))


REVIEW_ROLES = ("grid_staff", "data_steward")
REVIEW_SCOPES = ("grid", "community", "street", "department")


class PortalReviewer(_Strict):
    """One reviewer's sign-in for the review queue (复核): a role and exactly one scope."""

    password_hash: str = Field(description="Made by `gridhub portal-passwd`: scrypt$n$r$p$salt$hash.")
    role: Literal["grid_staff", "data_steward"] = Field(
        "grid_staff",
        description="grid_staff (网格员): ID numbers and phones masked, as `gridhub explain` shows them; "
        "data_steward (数据管理员): values shown as they are. Every answer is audited with what was shown.",
    )
    grid: str | None = Field(None, description="Scope: one grid's code (the cases whose records lie in it).")
    community: str | None = Field(None, description="Scope: a community's code (all its grids).")
    street: str | None = Field(None, description="Scope: a street's (街道/镇) code (all its grids).")
    department: str | None = Field(
        None, description="Scope: a department's feeds (the cases with a record from one of them)."
    )
    blind_labelling: bool = Field(
        False,
        description="May label the current run's evaluation sample in the portal (盲标, /label): its pairs in "
        "the scope, one at a time, without score or link status; answers go to the sample's labels.csv "
        "(`gridhub evaluate`). Masking follows the role.",
    )

    _hash = field_validator("password_hash")(lambda v: _password_hash(v))

    @model_validator(mode="after")
    def _one_scope(self) -> PortalReviewer:
        given = [k for k in REVIEW_SCOPES if getattr(self, k)]
        if len(given) != 1:
            raise ValueError(
                f"a reviewer needs exactly one scope of {', '.join(REVIEW_SCOPES)} (given: {given or 'none'})"
            )
        return self

    @property
    def scope(self) -> tuple[str, str]:
        """(kind, value): ``("grid", "445399001001001")``, ``("department", "公安")`` ..."""
        kind = next(k for k in REVIEW_SCOPES if getattr(self, k))
        return kind, str(getattr(self, kind))


class Portal(_Strict):
    """The upload portal: departments and their hashed passwords, the upload size cap, the session secret."""

    departments: dict[str, PortalDepartment] = Field(description="Department name (as in feeds) → sign-in.")
    reviewers: dict[str, PortalReviewer] = Field(
        default_factory=dict,
        description="Reviewer account name → sign-in, role and scope, for the review queue (docs/portal.md). "
        "Names differ from the departments' (both sign in on the same form).",
    )
    max_upload_bytes: int = Field(50 * 1024 * 1024, ge=1, description="Largest file a department may upload.")
    session_secret_env: str = Field(
        env.PORTAL_SECRET,
        description="Environment variable holding the key that signs session cookies.",
    )
    session_hours: float = Field(
        8, gt=0, description="A sign-in lasts at most this long, however active (the absolute lifetime)."
    )
    session_idle_minutes: float = Field(
        30, gt=0, description="A sign-in ends after this long without a request (the idle timeout)."
    )
    secure_cookies: bool = Field(False, description="Mark cookies Secure (set true when served over HTTPS).")
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses or networks (CIDR) of reverse proxies whose X-Forwarded-For header is "
        "believed; default none: the client is the address the connection comes from.",
    )
    sign_in_failures_per_account: int = Field(
        10,
        ge=1,
        description="Failed sign-ins to one department from one client address before that pair is paused "
        "for `sign_in_window_minutes` (other departments behind the same address still sign in).",
    )
    sign_in_failures_per_client: int = Field(
        50,
        ge=1,
        description="Failed sign-ins from one client address, any department, before the address is paused.",
    )
    sign_in_window_minutes: float = Field(
        5, gt=0, description="The window the sign-in failure counts are taken over (and the pause)."
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        for item in v:
            try:
                ipaddress.ip_network(item.strip(), strict=False)
            except ValueError:
                raise ValueError(
                    f"trusted_proxies: {item!r} is not an IP address or network (e.g. 10.0.0.5, 10.0.0.0/24)"
                ) from None
        return [item.strip() for item in v]


class WorkspaceConfig(_Strict):
    """A workspace's ``gridhub.yaml``: the district, its department feeds, reference data and settings."""

    name: str = Field(
        description="The workspace's name, e.g. the district's (青石区); written into each snapshot's lineage."
    )
    district_code: str = Field(
        pattern=r"^\d{6}$",
        description="The district's 6-digit administrative division code (县级行政区划代码, e.g. '445399'); "
        "`gridhub check` warns when no address of the library lies in it.",
    )
    feeds: list[Feed] = Field(description="The department feeds (see docs/feeds.md); names are unique.")
    reference: Reference = Field(
        default_factory=Reference,
        description="The reference data (四标) files and their column mapping (see docs/reference-data.md).",
    )
    warehouse: WarehouseSettings = Field(
        default_factory=WarehouseSettings,
        description="Where and how snapshots are published (see docs/warehouse.md).",
    )
    matching: dict = Field(
        default_factory=dict,
        description="Entity-resolution settings per entity type (see docs/entity-resolution.md).",
    )
    legal_representatives: LegalRepresentatives = Field(
        default_factory=LegalRepresentatives,
        description="Linking organisations' 法定代表人 to persons (see docs/entity-resolution.md).",
    )
    quality: Quality = Field(default_factory=Quality, description="Quality figures against a ground truth.")
    portal: Portal | None = Field(None, description="The department upload portal; absent = portal off.")
    publish_gate: PublishGate = Field(
        default_factory=PublishGate,
        description="Hold a run that changes many entity ids or quarantines many more rows for a person's "
        "approval before publishing (see docs/airflow.md); off by default.",
    )
    grid_norms: dict[str, list[SizeRange]] = Field(
        default_factory=dict,
        description="Sizing norm per grid type (基础网格 / 微网格 / 专属网格), for `grid_metrics.size_status` "
        "(see docs/metrics.md): a list of `{measure, min, max}`, measure households / residents / "
        "organisations; a grid is within when any of its type's ranges holds it. A type listed here replaces "
        f"its default ({describe_norms(DEFAULT_GRID_NORMS)}); `[]` = no norm for that type.",
    )

    alerts: Alerts | None = Field(
        None,
        description="Failure alerts by webhook and/or e-mail; absent = only Airflow's own failure states.",
    )

    @field_validator("grid_norms")
    @classmethod
    def _norm_types(cls, v: dict[str, list[SizeRange]]) -> dict[str, list[SizeRange]]:
        for grid_type, ranges in v.items():
            if grid_type not in GRID_TYPES:
                raise ValueError(
                    f"grid_norms: {grid_type!r} is not a grid type; use one of {list(GRID_TYPES)}"
                )
            measures = [r.measure for r in ranges]
            if len(set(measures)) < len(measures):
                raise ValueError(f"grid_norms.{grid_type}: one range per measure, got {measures}")
        return v

    @property
    def grid_norms_in_force(self) -> dict[str, tuple[SizeRange, ...]]:
        """The norm of every grid type: the defaults, overridden per type by ``grid_norms``."""
        return grid_norms_with_defaults(self.grid_norms)

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
        departments = {f.department for f in self.feeds}
        clash = sorted((set(self.portal.departments) | departments) & set(self.portal.reviewers))
        if clash:
            raise ValueError(f"portal reviewers {clash} have a department's name: give them their own")
        for name, r in self.portal.reviewers.items():
            if r.department is not None and r.department not in departments:
                raise ValueError(
                    f"portal reviewer {name!r}: department {r.department!r} has no feed "
                    f"(departments: {sorted(departments)})"
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
    "Alerts",
    "CONFIG_FILE",
    "ConfigError",
    "Feed",
    "FileSource",
    "Portal",
    "PortalDepartment",
    "PublishGate",
    "REFERENCE_COLUMNS",
    "REFERENCE_DEFAULTS",
    "Reference",
    "ReferenceFile",
    "Smtp",
    "SqlSource",
    "WorkspaceConfig",
    "load_config",
]
