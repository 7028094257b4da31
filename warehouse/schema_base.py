"""The building blocks of :mod:`warehouse.schema`: code formats, privacy layers, and the ``Column`` and
``Table`` declarations every canonical table is made of. Import them from :mod:`warehouse.schema`, which
re-exports them beside the tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import pyarrow as pa
import pyarrow.compute as pc

# --------------------------------------------------------------------------------------------------------------
# Code formats (see shared/docs/domain.md); used by validation and by the privacy layer.
# --------------------------------------------------------------------------------------------------------------
RESIDENT_ID_PATTERN = r"^\d{17}[\dX]$"
CREDIT_CODE_PATTERN = r"^[0-9A-HJ-NP-RTUWXY]{18}$"
DIVISION_CODE_PATTERN = r"^\d{12}$"
DEFAULT_GRID_CODE_WIDTH = 15
GRID_TYPES = ("基础网格", "微网格", "专属网格")
#: 街道/镇 code of a row whose place is not known (no grid, no address): its own partition, never dropped.
UNKNOWN_STREET = "unknown"
STREET_CODE_PATTERN = rf"^(?:\d{{9}}|{UNKNOWN_STREET})$"


class Layer(StrEnum):
    """Privacy layer a column is published in."""

    SHARED = "shared"  # every reader: personal identifiers masked or replaced by a keyed hash
    RESTRICTED = "restricted"  # granted readers only: full values


class PIIKind(StrEnum):
    """Kinds of personal data the privacy layer masks in ``shared``."""

    RESIDENT_ID = "resident_id"
    PHONE = "phone"


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    doc: str
    nullable: bool = True
    pii: PIIKind | None = None  # masked + keyed hash in the shared layer
    #: Published in the restricted layer only: every value is null in shared (personal free text, such as
    #: the address a department gave for one of its records).
    restricted_only: bool = False
    #: Text derived from what a department typed, in which a number glued to letters is still a number (the
    #: pinyin of a name: ``linwu13109278394``): scrubbed in shared without the token rule of
    #: :mod:`warehouse.privacy`.
    derived_text: bool = False
    pattern: str | None = None  # regex the non-null values must match
    values: tuple[str, ...] | None = None  # allowed value set
    references: str | None = None  # "table.column" this column points to
    #: Smallest and largest allowed value of a numeric column, both included (None: no bound on that side).
    bounds: tuple[float | None, float | None] | None = None


@dataclass(frozen=True)
class Table:
    name: str
    doc: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    chinese: str = ""
    #: Columns whose values name the table's hive folders (``<table>/<column>=<value>/part-00000.parquet``).
    #: They are columns of the table like any other; in the files they live in the folder name only.
    partition_by: tuple[str, ...] = field(default_factory=tuple)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"table {self.name} has no column {name}")


def street_code_column(where: str) -> Column:
    """The partition column of the big tables: the 街道/镇 (township / street office) the row lies in."""
    return Column(
        name="street_code",
        type=pa.string(),
        nullable=False,
        pattern=STREET_CODE_PATTERN,
        doc=f"9-digit 街道/镇 code (county 6 + township 3) {where}. The table is partitioned by it.",
    )


def street_codes(
    grid_code: pa.Array | pa.ChunkedArray, division_code: pa.Array | pa.ChunkedArray | None = None
) -> pa.Array:
    """The 街道/镇 code of each row (乡镇街道, 9 digits): the first 9 digits of its grid code (county 6 + street 3
    + ...), else of its address's 12-digit division code, else :data:`UNKNOWN_STREET`. Vectorised."""

    def prefix(values: pa.Array | pa.ChunkedArray | None) -> pa.Array | pa.ChunkedArray | None:
        if values is None:
            return None
        values = values.cast(pa.string())
        usable = pc.fill_null(pc.match_substring_regex(values, r"^[0-9]{9}"), False)
        return pc.if_else(usable, pc.utf8_slice_codeunits(values, 0, 9), pa.scalar(None, pa.string()))

    found = pc.coalesce(
        *(p for p in (prefix(grid_code), prefix(division_code)) if p is not None), pa.scalar(UNKNOWN_STREET)
    )
    return found.combine_chunks() if isinstance(found, pa.ChunkedArray) else found


S = pa.string()
D = pa.date32()
F = pa.float64()
I = pa.int64()  # noqa: E741 - a type alias, read as "int"
B = pa.bool_()
LIST_S = pa.list_(pa.string())


def house_relation_table(
    *, owner: str, owner_id: str, owner_doc: str, chinese: str, doc: str, relations: tuple[str, ...]
) -> Table:
    """A table relating persons or organisations (``owner``, id column ``owner_id``) to houses: one row per
    (owner, house, relation), first and last seen, current or not, partitioned by the house's 街道/镇."""
    text = " / ".join(relations) + "."
    return Table(
        name=f"{owner}_house",
        chinese=chinese,
        doc=doc,
        key=(owner_id, "house_id", "relation"),
        partition_by=("street_code",),
        columns=(
            Column(owner_id, S, owner_doc, nullable=False, references=f"{owner}.{owner_id}"),
            Column("house_id", S, "House.", nullable=False, references="house.house_id"),
            Column("relation", S, text, nullable=False, values=relations),
            Column("valid_from", D, "First seen."),
            Column("valid_to", D, "Last seen, null while current."),
            Column("is_current", B, "Still current."),
            street_code_column(f"of the house (its `street_code`; '{UNKNOWN_STREET}' when unknown)"),
            Column("sources", LIST_S, "Feeds that state the relation."),
        ),
    )
