"""Entity-resolution settings: what to block on, what to compare, where the thresholds sit, who survives.

One engine resolves persons (实有人口), organisations (实有单位), houses (实有房屋), facilities (实有设施) and any
other table: everything type-specific is data in an :class:`EntitySettings`. Defaults per entity type live
here; a workspace overrides them in the ``matching:`` section of ``gridhub.yaml``::

    matching:
      person:
        thresholds: {match: 0.95, review: 0.5}
        max_cluster_size: 40
        blocking:                       # replaces the default list
          - {name: id, on: [id_number]}
          - {name: pinyin_birth, on: [name_pinyin, birth_date]}
        comparisons:                    # merged by name into the defaults
          - {name: phone, kind: phone, columns: [phone]}
        survivorship:
          default: [priority, recent, complete]
          fields: {phone: [recent, priority]}

Blocking keys are column names or small key functions (``surname(name)``, ``prefix(id_number,6)``,
``geocell(lon,lat,100)``, ``org_core(org_name)``, ``digits(address_text)``); see :mod:`matching.er.blocking`.
Comparison kinds are listed in :data:`matching.er.comparisons.COMPARISON_KINDS`.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from matching.er.settings_defaults import DEFAULTS
from matching.er.survivorship import Survivorship
from warehouse.errors import UserError
from warehouse.schema import ENTITY_ID_COLUMN

LinkType = Literal["dedupe", "link_only"]
#: ``requires_any``: alternatives, each a tuple of (comparison, accepted levels) that must all hold
RequiresAny = tuple[tuple[tuple[str, tuple[str, ...]], ...], ...]

ID_PREFIXES = {"person": "P", "organisation": "O", "house": "H", "facility": "F"}
#: The id column of each entity type: the warehouse schema's one definition.
ID_COLUMNS = ENTITY_ID_COLUMN

# Mention columns that describe the record, not the entity: never compared, never survive into golden records.
META_COLUMNS = (
    "record_key",
    "feed",
    "source_record_id",
    "raw_sha256",
    "line",
    "priority",
    "record_date",
    "derived",
)


class SettingsError(UserError, ValueError):
    """An entity-resolution setting is invalid; the message names the entity type and the key."""


@dataclass(frozen=True)
class BlockingRule:
    """Records whose keys are all equal (and not null) become candidate pairs.

    ``unless_both``: a column that decides the pairs whose two sides both carry it (a house's bound
    ``address_code``, an exclusive identifier): the rule then pairs only records where a side has no value,
    so a text or digits key over a district of bound records never builds blocks of millions of pairs.
    """

    name: str
    on: tuple[str, ...]
    unless_both: str | None = None

    @classmethod
    def parse(cls, raw: Any) -> BlockingRule:
        if isinstance(raw, BlockingRule):
            return raw
        if isinstance(raw, str):
            return cls(name=raw, on=(raw,))
        if isinstance(raw, (list, tuple)):
            return cls(name="+".join(map(str, raw)), on=tuple(map(str, raw)))
        if isinstance(raw, dict) and "on" in raw:
            on = raw["on"]
            on = (on,) if isinstance(on, str) else tuple(map(str, on))
            unless = raw.get("unless_both")
            if unless is not None and (not isinstance(unless, str) or not unless.strip()):
                raise SettingsError(f"blocking rule {raw!r}: unless_both is one column name")
            return cls(
                name=str(raw.get("name") or "+".join(on)),
                on=on,
                unless_both=unless.strip() if unless else None,
            )
        raise SettingsError(f"a blocking rule is a column name, a list of keys or {{name, on}}; got {raw!r}")


@dataclass(frozen=True)
class ComparisonSpec:
    """One comparison: a kind from ``COMPARISON_KINDS`` applied to one or more columns."""

    name: str
    kind: str
    columns: tuple[str, ...]
    options: dict = field(default_factory=dict)
    tf: bool = False  # term-frequency adjustment of the exact level (common names weigh less)

    @classmethod
    def parse(cls, raw: Any) -> ComparisonSpec:
        if isinstance(raw, ComparisonSpec):
            return raw
        if not isinstance(raw, dict) or "kind" not in raw:
            raise SettingsError(f"a comparison is {{name, kind, columns, options, tf}}; got {raw!r}")
        cols = raw.get("columns") or [raw.get("column") or raw["name"]]
        cols = (cols,) if isinstance(cols, str) else tuple(cols)
        return cls(
            name=str(raw.get("name") or cols[0]),
            kind=str(raw["kind"]),
            columns=cols,
            options=dict(raw.get("options") or {}),
            tf=bool(raw.get("tf", False)),
        )


@dataclass(frozen=True)
class Thresholds:
    """Match probabilities: ≥ ``match`` joins records; [``review``, ``match``) goes to the review queue."""

    match: float = 0.9
    review: float = 0.5
    keep_pairs: float = 0.05  # pairs kept for explain / the next run
    # candidate pairs at or below this probability keep their two records apart in clustering, as a reviewer's
    # "different" would (0 = off): two 单位 of one name with different credit codes are not chained together
    # through the name-only mentions that match both. Not remembered in the state.
    cannot_link: float = 0.0


# the keys of an entity type's ``matching:`` config
_CONFIG_KEYS = frozenset(
    {
        "blocking",
        "comparisons",
        "thresholds",
        "link_type",
        "source_column",
        "max_block_size",
        "max_cluster_size",
        "u_sample_pairs",
        "em_max_iterations",
        "seed",
        "survivorship",
        "id_prefix",
        "id_column",
        "replace_comparisons",
        "correct_u_for_duplicates",
        "requires_any",
        "identity",
    }
)


def _merged_comparisons(base: dict, config: dict) -> list[dict]:
    """The default comparisons with config's applied: a known name is updated, ``drop: true`` removes it, a
    new name is appended; ``replace_comparisons`` starts from none."""
    comparisons = list(base.get("comparisons", []))
    if config.get("replace_comparisons"):
        comparisons = []
    by_name = {c["name"]: i for i, c in enumerate(comparisons)}
    for c in config.get("comparisons", []):
        if c.get("drop"):
            comparisons = [x for x in comparisons if x["name"] != c["name"]]
            by_name = {x["name"]: i for i, x in enumerate(comparisons)}
            continue
        if c.get("name") in by_name:
            comparisons[by_name[c["name"]]] = {**comparisons[by_name[c["name"]]], **c}
        else:
            comparisons.append(c)
            by_name[c.get("name")] = len(comparisons) - 1
    return comparisons


@dataclass(frozen=True)
class EntitySettings:
    """Everything the engine needs to resolve one entity type."""

    entity_type: str
    id_prefix: str
    blocking: tuple[BlockingRule, ...]
    comparisons: tuple[ComparisonSpec, ...]
    thresholds: Thresholds = Thresholds()
    link_type: LinkType = "dedupe"
    source_column: str = "feed"  # which column names the dataset for link_only
    max_block_size: int = 2_000  # larger blocks are skipped and reported (a rule that explodes)
    max_cluster_size: int = 50  # larger clusters are split on their weakest links (anti-chaining guard)
    u_sample_pairs: int = 500_000  # random pairs for estimating u
    em_max_iterations: int = 30
    seed: int = 20240501
    survivorship: Survivorship = Survivorship()
    id_column: str = "entity_id"
    # Mentions repeat heavily (人社 names a 单位 once per employee): take the matches out of u measured on
    # random pairs (see matching.er.scoring). Off by default: for persons it adds nothing.
    correct_u_for_duplicates: bool = False
    # identity evidence a match edge needs (see matching.er.evidence); () = no rule
    requires_any: RequiresAny = ()
    # Exclusive identifiers (a valid 身份证号, a valid 统一社会信用代码): records holding one value are one entity,
    # whatever their size; two different values are never one entity, directly or through a chain.
    identity: tuple[str, ...] = ()
    # (identity column, column implying it): the old 组织机构代码 implies the credit code holding it
    identity_implied: tuple[tuple[str, str], ...] = ()
    # The city's divisions (province, city, district, street: per division its name and aliases, from the
    # reference data the caller loads; data, not config; set by with_regions): a leading one written without
    # its suffix is set aside from organisation names' cores like one written with it (org_core blocking keys
    # and the org_name comparisons' core levels; matching.er.text.regions_written_out)
    regions: tuple[tuple[str, ...], ...] = ()

    # -- construction ------------------------------------------------------------------------------------
    @classmethod
    def from_config(cls, entity_type: str, config: dict | None = None) -> EntitySettings:
        """Defaults for ``entity_type`` overridden by ``config`` (the ``matching:`` mapping of gridhub.yaml).

        ``config`` may be the whole ``matching`` mapping (keyed by entity type) or the entity's own part. An
        entity type without defaults needs ``blocking`` and ``comparisons`` in config.
        """
        from matching.er.evidence import parse_requires_any
        from matching.er.identity import identity_columns, implied_columns

        config = dict(config or {})
        if entity_type in config and isinstance(config[entity_type], dict):
            config = dict(config[entity_type])
        elif any(k in config for k in ID_PREFIXES) and entity_type not in config:
            config = {}
        base = copy.deepcopy(DEFAULTS.get(entity_type, {}))
        if not base and not {"blocking", "comparisons"} <= set(config):
            raise SettingsError(
                f"matching.{entity_type}: no defaults for this entity type; give blocking and comparisons"
            )
        unknown = sorted(set(config) - _CONFIG_KEYS)
        if unknown:
            raise SettingsError(
                f"matching.{entity_type}: unknown keys {unknown}; known: {sorted(_CONFIG_KEYS)}"
            )
        comparisons = _merged_comparisons(base, config)
        blocking = config.get("blocking", base.get("blocking", []))
        thresholds = {**base.get("thresholds", {}), **config.get("thresholds", {})}
        surv_raw = {**base.get("survivorship", {}), **config.get("survivorship", {})}
        try:
            survivorship = Survivorship.from_config(surv_raw)
            settings = cls(
                entity_type=entity_type,
                id_prefix=str(
                    config.get("id_prefix", base.get("id_prefix", ID_PREFIXES.get(entity_type, "E")))
                ),
                blocking=tuple(BlockingRule.parse(b) for b in blocking),
                comparisons=tuple(ComparisonSpec.parse(c) for c in comparisons),
                thresholds=Thresholds(**thresholds),
                link_type=config.get("link_type", base.get("link_type", "dedupe")),
                source_column=config.get("source_column", base.get("source_column", "feed")),
                max_block_size=int(config.get("max_block_size", base.get("max_block_size", 2_000))),
                max_cluster_size=int(config.get("max_cluster_size", base.get("max_cluster_size", 50))),
                u_sample_pairs=int(config.get("u_sample_pairs", base.get("u_sample_pairs", 500_000))),
                em_max_iterations=int(config.get("em_max_iterations", base.get("em_max_iterations", 30))),
                seed=int(config.get("seed", base.get("seed", 20240501))),
                survivorship=survivorship,
                id_column=config.get(
                    "id_column", base.get("id_column", ID_COLUMNS.get(entity_type, "entity_id"))
                ),
                correct_u_for_duplicates=bool(
                    config.get("correct_u_for_duplicates", base.get("correct_u_for_duplicates", False))
                ),
                requires_any=parse_requires_any(
                    config.get("requires_any", base.get("requires_any")),
                    f"matching.{entity_type}.requires_any",
                ),
                identity=identity_columns(entity_type, config.get("identity", base.get("identity"))),
                identity_implied=implied_columns(entity_type, config.get("identity", base.get("identity"))),
            )
        except TypeError as e:
            raise SettingsError(f"matching.{entity_type}: {e}") from None
        settings.validate()
        return settings

    def with_regions(self, regions: tuple[tuple[str, ...], ...] | list) -> EntitySettings:
        """These settings with the city's divisions (per division its name and aliases): ``org_core`` blocking
        keys and the ``org_name`` comparisons (``options.regions``) set a leading one aside, written with its
        suffix or without (江澜宏远贸易 → 宏远贸易)."""
        regions = tuple(tuple(str(n) for n in division) for division in regions)
        if not regions:
            return self
        comparisons = tuple(
            replace(c, options={**c.options, "regions": regions}) if c.kind == "org_name" else c
            for c in self.comparisons
        )
        return replace(self, regions=regions, comparisons=comparisons)

    def validate(self) -> None:
        """Raise :class:`SettingsError` for settings the engine cannot run."""
        from matching.er.comparisons import COMPARISON_KINDS

        where = f"matching.{self.entity_type}"
        if not self.blocking:
            raise SettingsError(f"{where}.blocking: at least one rule is needed")
        if not self.comparisons:
            raise SettingsError(f"{where}.comparisons: at least one comparison is needed")
        names = [c.name for c in self.comparisons]
        if len(set(names)) != len(names):
            raise SettingsError(f"{where}.comparisons: names repeat: {names}")
        for c in self.comparisons:
            if c.kind not in COMPARISON_KINDS:
                raise SettingsError(
                    f"{where}.comparisons.{c.name}: unknown kind {c.kind!r}; "
                    f"known: {sorted(COMPARISON_KINDS)}"
                )
        t = self.thresholds
        if not 0 < t.review <= t.match < 1:
            raise SettingsError(f"{where}.thresholds: need 0 < review ≤ match < 1, got {t}")
        if not 0 <= t.cannot_link < t.review:
            raise SettingsError(
                f"{where}.thresholds.cannot_link: need 0 ≤ cannot_link < review, got {t.cannot_link}"
            )
        if self.link_type not in ("dedupe", "link_only"):
            raise SettingsError(f"{where}.link_type: dedupe or link_only, got {self.link_type!r}")
        if len(self.id_prefix) != 1 or not self.id_prefix.isalpha():
            raise SettingsError(f"{where}.id_prefix: one letter, got {self.id_prefix!r}")
        from matching.er.evidence import validate_requires_any

        validate_requires_any(self)
        for rules in [self.survivorship.default, *self.survivorship.fields.values()]:
            bad = set(rules) - {"priority", "recent", "complete", "frequent"}
            if bad:
                raise SettingsError(f"{where}.survivorship: unknown rules {sorted(bad)}")

    def fingerprint(self) -> str:
        """Hash of what changes scores: blocking, comparisons, link type. A change retrains the model."""
        spec = {
            "model_version": MODEL_VERSION,
            # unless_both only when set, so the fingerprints of rules without it stay as they were
            "blocking": [{k: v for k, v in asdict(b).items() if v is not None} for b in self.blocking],
            "comparisons": [asdict(c) for c in self.comparisons],
            "link_type": self.link_type,
        }
        if self.correct_u_for_duplicates:  # only when set, so existing fingerprints stay as they were
            spec["correct_u_for_duplicates"] = True
        if self.requires_any:
            spec["requires_any"] = [[list(c) for c in alt] for alt in self.requires_any]
        if self.identity:  # clustering obeys it: a state clustered without (or with others) is redone once
            spec["identity"] = list(self.identity)
        if self.identity_implied:  # only when set, so existing fingerprints stay as they were
            spec["identity_implied"] = [list(x) for x in self.identity_implied]
        if self.regions:  # only when set, so existing fingerprints stay as they were
            spec["regions"] = [list(x) for x in self.regions]
        return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:16]


# Raised when the engine's way of estimating or applying a model changes (2: fixed m for check-digit conflicts;
# 3: person_name's one_char_given level, and m averaged over blocking rules by the matches each found; 4:
# org_name's same_name level, term frequencies of the registered name; 5: a name-only organisation weighed by
# the credit code's own share of the name, org_name's coarser levels by m up to them, region prefixes set aside,
# house digits the parser cannot place compared): a state trained by an older engine is then retrained once
# instead of being reused.
MODEL_VERSION = 5

__all__ = [
    "BlockingRule",
    "ComparisonSpec",
    "DEFAULTS",
    "EntitySettings",
    "ID_COLUMNS",
    "ID_PREFIXES",
    "META_COLUMNS",
    "SettingsError",
    "Survivorship",
    "Thresholds",
]
