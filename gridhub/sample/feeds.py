"""The sample district's feed files and the truth behind them: the shared machinery of the department feeds.

Each feed is built as a list of records (source columns in the department's own format) together with the
truth rows it implies: which true entity each record describes (``truth/records.csv``), which standard
address each address field means and the forms it is written in (``truth/addresses.csv``) and which noise was
applied (``truth/noise.csv``).
A few malformed rows per feed (a ragged row, an impossible date, an empty record id) are written too; they
are listed in ``truth/quarantine_expected.csv`` with the reason code the ingest must give them, and nowhere
else in the truth. The feeds' descriptions are in :mod:`gridhub.sample.feed_specs`, what each department
writes in :mod:`gridhub.sample.departments`.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import IO

import numpy as np

from gridhub.sample import noise
from gridhub.sample.codes import ID_CHECK
from gridhub.sample.district import District
from gridhub.sample.draws import Draws
from gridhub.sample.feed_specs import FeedSpec
from gridhub.sample.noise import Profile
from gridhub.sample.persons import PERSON_COLUMNS
from gridhub.sample.population import Population
from gridhub.sample.spool import AddressBook, RowFile, RowSource, SpillList, take_rows
from gridhub.sample.typos import road_typos
from warehouse.reasons import ReasonCode

MOVED_SHARE, MIN_MOVED_ROWS = 0.04, 2  # 民政 / 人社 rows with a moved person's previous address
MALFORMED_PER_ROWS = 2000  # one malformed row of each planned kind per this many rows, at least one
PERSON_KEY_PREFIX = "TP"  # true persons are TP000001, TP000002 … in the order of their rows
#: The fields of a true person the feeds write (and the truth of their rows names).
PERSON_FIELDS = (
    *(c for c in PERSON_COLUMNS if c not in ("household_key", "role", "_hometown")),
    *("id_number", "phone", "contact_phone", "hukou_address_code", "hukou_text", "_age", "employer_org_key"),
)
#: The fields of a standard address the feeds write (:func:`gridhub.sample.noise.address` and 民政's 社区).
ADDRESS_FIELDS = (
    "province",
    "city",
    "district",
    "street",
    "community",
    "community_short",
    "rural",
    "road",
    "villager_group",
    "house_number",
    "estate",
    "estate_alias",
    "building",
    "unit",
    "floor",
    "room",
)


@dataclass
class FeedOutput:
    """The rows of one feed and the truth they imply.

    With a ``spool`` folder the rows and truth go to files there as they are made (a district of millions
    of persons does not fit in memory as Python objects); without one (the scratch target of a malformed
    copy) the truth stays in memory and no row can be added.
    """

    spec: FeedSpec
    spool: Path | None = None
    rows: RowFile = field(init=False)
    records: SpillList = field(init=False)  # record id, entity type, entity key
    # record id, field, address code, the address's noise kinds ("|"-joined: the forms it is written in)
    addresses: SpillList = field(init=False)
    noise: SpillList = field(init=False)  # record id, field, kind
    # record id, entity type (person / organisation / legal_rep), the valid identifier the row carries for it
    codes: SpillList = field(init=False)
    houses: SpillList = field(init=False)  # record id, "house", address code: see ``derives_houses``
    derives_houses: bool = field(init=False)
    malformed: list[tuple[int, list[str] | str, str, ReasonCode]] = field(default_factory=list)
    # (position among rows, row or raw line, record id, reason)
    logged: set[tuple[str, str]] = field(default_factory=set)  # (column, kind) pairs of ``noise``

    def __post_init__(self) -> None:
        folder = self.spool / self.spec.name if self.spool is not None else None

        def at(name: str) -> Path | None:
            return folder / name if folder is not None else None

        self.rows = RowFile(at("rows.csv"), row_encoding(self.spec.encoding), self.spec.newline)
        feed = (self.spec.name,)
        self.records, self.addresses = (
            SpillList(at("records.csv"), feed),
            SpillList(at("addresses.csv"), feed),
        )
        self.noise, self.codes = SpillList(at("noise.csv"), feed), SpillList(at("codes.csv"), feed)
        self.houses = SpillList(at("houses.csv"), feed)
        # a person feed without houses of its own still describes one: the house at the person's address
        # (the engine's derived house mention), so its rows are house records of that address too
        self.derives_houses = "person" in self.spec.entities and "house" not in self.spec.entities

    def close(self) -> None:
        """Done making rows: what is still in memory goes to the spool files."""
        self.rows.close()
        for kept in (self.records, self.addresses, self.noise, self.codes, self.houses):
            kept.spill()

    def address(self, rid: str, field_name: str, code: str, forms: str) -> None:
        """Note which standard address a field means (``code``, empty: none) and the forms it is written in."""
        self.addresses.append((rid, field_name, code, forms))
        if self.derives_houses and field_name == "address" and code:
            self.houses.append((rid, "house", code))

    def log(self, rid: str, column: str, kinds: list[str]) -> None:
        for k in kinds:
            self.noise.append((rid, column, k))
            self.logged.add((column, k))

    def code(self, rid: str, entity_type: str, code: str, kinds: list[str]) -> None:
        """Note the valid identifier the row carries (none when it was left out or mistyped)."""
        if code and not set(kinds) & INVALIDATING:
            self.codes.append((rid, entity_type, code))


def row_encoding(encoding: str) -> str:
    """The codec for one line of a file in ``encoding``: a byte-order mark is written once, at the start."""
    return "utf-8" if encoding.lower().replace("_", "-") == "utf-8-sig" else encoding


#: Noise kinds that leave a row without a valid identifier of its entity.
INVALIDATING = frozenset(
    {"id_missing", "id_bad_check", "id_typo", "credit_missing", "org_code_legacy", "owner_code_missing"}
)

#: Builds one row of a feed from one true item: ``row_for(item, record_id, target, moved)``; noise and address
#: truth go to ``target``; ``moved``: the row carries a moved person's previous address (民政, 人社 only).
RowFor = Callable[[dict, str, FeedOutput, bool], list[str]]
#: What a row describes: (entity type, the item's column holding that entity's true key); an entity type
#: ``@column`` is read from the item (a 住建 owner is a person or an organisation); an empty key: no entity.
Truth = tuple[tuple[str, str], ...]


class FeedBuilder:
    """Writes every feed's records from the true population, with noise."""

    def __init__(
        self,
        rng: np.random.Generator,
        district: District,
        pop: Population,
        spool: Path | None = None,
        late: np.random.Generator | None = None,
    ):
        self.rng = rng
        self.d = Draws(rng)
        # noise kinds added after the others draw from a stream of their own, so the others stay as they were
        self.late = Draws(late if late is not None else np.random.default_rng(0))
        self.district = district
        self.pop = pop
        self.spool = spool
        self.addr = AddressBook(district.addresses, ADDRESS_FIELDS)
        self.person_rows = RowSource(pop.persons, PERSON_FIELDS)
        self.homes = district.addresses.loc[district.addresses["kind"] == "home", "address_code"].tolist()
        self.previous: dict[str, str] = {}  # person key → previous home, for persons who moved
        self.typos = road_typos(district.addresses["road"])  # road → its homophone typos

    def output(self, spec: FeedSpec) -> FeedOutput:
        """An empty feed output spooling to this builder's spool folder."""
        return FeedOutput(spec, self.spool)

    def persons_by_key(self, keys: Iterable[str]) -> dict[str, dict]:
        """The true persons of ``keys`` (TP… keys; others are skipped) as dicts, by key."""
        wanted = sorted({k for k in keys if k.startswith(PERSON_KEY_PREFIX)})
        rows = self.person_rows.rows([int(k[len(PERSON_KEY_PREFIX) :]) - 1 for k in wanted])
        found = {r["person_key"]: r for r in rows}
        if list(found) != wanted:
            raise AssertionError("person keys are not numbered by position")  # pragma: no cover
        return found

    # ---- helpers ------------------------------------------------------------------------------------------
    def address(self, out: FeedOutput, rid: str, column: str, field_name: str, code: str, p: Profile) -> str:
        text, kinds = noise.address(self.d, self.addr[code], p, self.typos)
        out.address(rid, field_name, code, "|".join(kinds))
        out.log(rid, column, kinds)
        return text

    def person_cols(
        self,
        out: FeedOutput,
        rid: str,
        person: dict,
        p: Profile,
        cols: dict[str, str],
        date_base: str,
        date_variants: tuple[str, ...],
    ) -> dict[str, str]:
        """Name, ID, birth date and phone of a person as this feed keys them (``cols``: field → header)."""
        values = {}
        values["name"], kinds = noise.name(self.d, person["name"], p)
        out.log(rid, cols["name"], kinds)
        if "id_number" in cols:
            if person["_age"] < 16 and self.d.hit(p.id_missing_minor):
                values["id_number"], kinds = "", ["id_missing"]
            else:
                values["id_number"], kinds = noise.resident_id(
                    self.d, person["id_number"], person["birth_date"], p
                )
            out.log(rid, cols["id_number"], kinds)
            out.code(rid, "person", person["id_number"], kinds)
        if "birth_date" in cols:
            values["birth_date"], kinds = noise.date(
                self.d, person["birth_date"], date_base, date_variants, p
            )
            out.log(rid, cols["birth_date"], kinds)
        if "phone" in cols:
            number, kinds = person["phone"], []
            share = p.household_phone_minor if person["_age"] < 18 else p.household_phone_elder
            if person["contact_phone"] and self.d.hit(share):
                number, kinds = person["contact_phone"], ["household_phone"]
            values["phone"], more = noise.phone(self.d, number, p)
            out.log(rid, cols["phone"], kinds + more)
        return values

    def residence(self, person: dict, moved: bool) -> str:
        """The address code a department has for a person: for a moved person, the previous home.

        A person who moved keeps one previous home across feeds (``self.previous``, written to the truth).
        """
        if not moved:
            return person["residence_address_code"]
        key = person["person_key"]
        if key not in self.previous:
            prev = person["residence_address_code"]
            while prev == person["residence_address_code"]:
                prev = self.d.pick(self.homes)
            self.previous[key] = prev
        return self.previous[key]

    def moved_rows(self, n_rows: int) -> set[int]:
        """Which of a feed's rows (by position) carry a moved person's previous address: a fixed quota."""
        size = min(n_rows, max(MIN_MOVED_ROWS, round(MOVED_SHARE * n_rows)))
        return set(self.rng.choice(n_rows, size=size, replace=False).tolist()) if n_rows else set()

    def write_rows(
        self,
        out: FeedOutput,
        items: Sequence[dict] | RowSource,
        order: Iterable[int],
        rid_of: Callable[[int], str],
        row_for: RowFor,
        truth: Truth,
        moved_rows: set[int] | frozenset[int] = frozenset(),
        prepare: Callable[[list[dict]], None] | None = None,
    ) -> None:
        """One row per item in ``order`` (record ids ``rid_of(1)``, ``rid_of(2)`` ...) and the truth records it
        implies; the rows at the positions ``moved_rows`` carry a moved person's previous address.

        Items are taken a block at a time; ``prepare(block)`` runs before the rows of each block are made."""
        i = 0
        for block in take_rows(items, np.fromiter(order, dtype=np.int64)):
            if prepare is not None:
                prepare(block)
            for item in block:
                i += 1
                rid = rid_of(i)
                out.rows.append(row_for(item, rid, out, i - 1 in moved_rows))
                for entity_type, key in truth:
                    if item[key]:
                        etype = item[entity_type[1:]] if entity_type.startswith("@") else entity_type
                        out.records.append((rid, etype, item[key]))

    def malformed(
        self,
        out: FeedOutput,
        items: Sequence[dict] | RowSource,
        pool: Sequence[int],
        rid_of: Callable[[int], str],
        row_for: RowFor,
        prepare: Callable[[list[dict]], None] | None = None,
    ) -> None:
        """Plan the feed's malformed rows (copies of real records with one defect each).

        Each copies an item drawn from ``pool`` (positions in ``items``) under the next record id after the rows;
        its noise and addresses stay out of the truth. ``prepare([item])`` runs before each copy is made.
        """
        n_rows = len(out.rows)
        count = max(1, n_rows // MALFORMED_PER_ROWS)
        numbers = itertools.count(n_rows + 1)
        for reason in out.spec.malformed:
            for _ in range(count):
                pos = self.d.integer(0, n_rows + 1)
                rid = rid_of(next(numbers))
                item = items[int(pool[self.d.integer(0, len(pool))])]
                if prepare is not None:
                    prepare([item])
                row = row_for(item, rid, FeedOutput(out.spec), False)
                headers = out.spec.headers
                if reason is ReasonCode.RAGGED_ROW:
                    # an unquoted comma inside an address splits it into one field too many
                    col = next(i for i, h in enumerate(headers) if out.spec.columns.get(h) == "address")
                    text = row[col] or "滨江路18号"
                    cut = max(1, len(text) // 2)
                    row[col] = text[:cut] + "," + text[cut:]
                    out.malformed.append((pos, ",".join(row), rid, reason))
                elif reason is ReasonCode.INVALID_DATE:
                    col = next(i for i, h in enumerate(headers) if out.spec.columns.get(h) == "birth_date")
                    row[col] = self.date_typo(out.spec.date_formats[0], row[col])
                    out.malformed.append((pos, row, rid, reason))
                elif reason is ReasonCode.MISSING_RECORD_ID:
                    row[headers.index(out.spec.record_id)] = ""
                    out.malformed.append((pos, row, "", reason))

    def date_typo(self, base: str, written: str) -> str:
        """A birth date keyed with one slip that leaves no valid date: month and day swapped (when the day is
        over 12) or the day's tens digit hit one key too far (a 30th or 31st that the month does not have)."""
        digits = "".join(c for c in written if c.isdigit())
        y, m, d = (digits[:4], digits[4:6], digits[6:8]) if len(digits) == 8 else ("1985", "02", "14")
        if int(d) > 12 and self.d.hit(0.5):
            m, d = d, m
        else:
            m, d = "02", self.d.pick(("30", "31"))
        return base.replace("%Y", y).replace("%m", m).replace("%d", d)

    def ensure_bad_check(self, out: FeedOutput) -> None:
        """Make sure a person feed has at least one ID with a wrong check digit (a kind tests rely on)."""
        column = next(h for h in out.spec.headers if out.spec.columns.get(h) == "id_number")
        if (column, "id_bad_check") in out.logged:
            return
        col = out.spec.headers.index(column)
        noisy = {rid for rid, c, _ in out.noise if c == column}
        persons = {rid for rid, t, _ in out.records if t == "person"}  # not a company owner's credit code
        for pos in self.rng.permutation(len(out.rows)):
            row = out.rows[int(pos)]
            rid = row[0]
            if len(row[col]) == 18 and row[col].isascii() and row[col][-1] != "x" and rid not in noisy:
                if rid not in persons:
                    continue
                wrong = [c for c in ID_CHECK if c != row[col][-1]]
                row[col] = row[col][:-1] + self.d.pick(wrong)
                out.log(rid, column, ["id_bad_check"])
                out.rows[int(pos)] = row
                out.codes.keep(partial(_not_person_code_of, rid))
                return

    def rid(self, prefix: str, i: int, width: int = 8) -> str:
        return f"{prefix}{i:0{width}d}"


def _not_person_code_of(rid: str, code: tuple) -> bool:
    return not (code[0] == rid and code[1] == "person")


class _Encoded:
    """A binary file written to as text in one encoding (what :func:`csv.writer` needs)."""

    def __init__(self, raw: IO[bytes], encoding: str):
        self.raw, self.encoding = raw, encoding

    def write(self, text: str) -> int:
        return self.raw.write(text.encode(self.encoding))


def write_feed(folder: Path, out: FeedOutput) -> tuple[Path, list[tuple[str, int, ReasonCode]]]:
    """Write the feed's file into ``folder`` (its landing folder), its malformed rows among the rows at their
    planned positions; return its path and (record id, line, reason) of the malformed rows (line 1 = header)."""
    spec = out.spec
    path = folder / spec.file_name
    path.parent.mkdir(parents=True, exist_ok=True)
    expected = []
    with open(path, "wb") as f:
        if row_encoding(spec.encoding) != spec.encoding:
            f.write(codecs.BOM_UTF8)
        text = _Encoded(f, row_encoding(spec.encoding))
        writer = csv.writer(text, lineterminator=spec.newline)
        writer.writerow(spec.headers)
        line, done = 1, 0
        for pos, row, rid, reason in sorted(out.malformed, key=lambda m: m[0]):
            out.rows.copy_range(f, done, pos, writer.writerow)
            line, done = line + pos - done + 1, pos
            if isinstance(row, str):
                text.write(row + spec.newline)
            else:
                writer.writerow(row)
            expected.append((rid, line, reason))
        out.rows.copy_range(f, done, len(out.rows), writer.writerow)
    return path, expected


#: The truth files written from the feeds, with their columns.
TRUTH_COLUMNS = {
    "records": ("feed", "source_record_id", "entity_type", "entity_key"),
    "addresses": ("feed", "source_record_id", "field", "address_code", "forms"),
    "noise": ("feed", "source_record_id", "column", "kind"),
    "codes": ("feed", "source_record_id", "entity_type", "code"),
    "quarantine_expected": ("feed", "source_record_id", "line", "reason_code"),
}


def write_truth_files(
    truth: Path, outputs: list[FeedOutput], expected: dict[str, list[tuple[str, int, ReasonCode]]]
) -> dict[str, Path]:
    """records.csv, addresses.csv, noise.csv, codes.csv and quarantine_expected.csv under ``truth``, copied
    from the feeds' truth spools; their paths (``truth_<name>``). A person feed's derived house records follow
    its own records (see :attr:`FeedOutput.derives_houses`)."""
    truth.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, columns in TRUTH_COLUMNS.items():
        path = truth / f"{name}.csv"
        with open(path, "wb") as f:
            text = io.StringIO()
            writer = csv.writer(text, lineterminator="\n")
            writer.writerow(columns)
            if name == "quarantine_expected":
                for out in outputs:
                    feed = out.spec.name
                    writer.writerows((feed, r, line, str(why)) for r, line, why in expected.get(feed, []))
            f.write(text.getvalue().encode("utf-8"))
            spooled = [] if name == "quarantine_expected" else outputs
            for out in spooled:
                getattr(out, name).copy_to(f)
                if name == "records":
                    out.houses.copy_to(f)
        paths[f"truth_{name}"] = path
    return paths
