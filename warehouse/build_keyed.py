"""The joins of the table assembly in DuckDB: record keys to entity ids, per-entity lists, the rows of the
relation tables and what a person's row looks up, each in the order of the key a table is built by.

``build_tables`` used to turn every record key into its entity id with a Python dictionary per entity type
(millions of entries in a city) and to hold every mention, assignment and link as pandas frames. Here those
joins are SQL over the inputs (:class:`~warehouse.build_sql.Inputs`: the run's Parquet files, or frames), run
by DuckDB within its memory limit, and their rows come out in entity (or owner) order, so that
:mod:`warehouse.build` builds each table a chunk of entities at a time (:func:`~warehouse.build_sql.grouped`,
:class:`~warehouse.build_sql.KeyedStream`) with its pandas builder, holding one chunk.

Every query gives exactly the rows the pandas operations it replaces gave (an inner join on ``record_key`` is
``map(dict(zip(record_key, entity_id)))`` then ``dropna``: a record has one assignment), ordered by the
entity id then the input's row order (``_rn``), with text in code point order (DuckDB's binary collation).
"""

from __future__ import annotations

from collections.abc import Mapping

from warehouse.build_sql import Inputs, quoted

#: The id column every per-entity query names its entity ``_id`` (golden chunks are merged on it).
ENTITY_KEY = "_id"


def entity_lists_query(inputs: Inputs, entity_type: str, lists: Mapping[str, str]) -> tuple[str, list[str]]:
    """Per entity (``_id``, in id order): for each ``output → mention column`` of ``lists`` the mention has, the
    sorted distinct non-null values of its records (``warehouse.columns.sorted_distinct``); null when none."""
    m_name, a_name = f"mentions_{entity_type}", f"assignments_{entity_type}"
    have = set(inputs.columns(m_name))
    aggregates = [
        f"list_sort(list(DISTINCT m.{quoted(col)}::VARCHAR) FILTER (WHERE m.{quoted(col)} IS NOT NULL)) "
        f"AS {quoted(out)}"
        for out, col in lists.items()
        if col in have
    ]
    query = (
        f"SELECT a.entity_id::VARCHAR AS {ENTITY_KEY}{''.join(', ' + agg for agg in aggregates)} "
        f"FROM {quoted(a_name)} a JOIN {quoted(m_name)} m ON m.record_key = a.record_key "
        f"WHERE a.entity_id IS NOT NULL GROUP BY a.entity_id ORDER BY {ENTITY_KEY}"
    )
    return query, [a_name, m_name]


def house_relation_rows_query(inputs: Inputs, owner_type: str, owner_id: str) -> tuple[str, list[str]]:
    """The links of ``<owner_type>_house`` whose two records were resolved, with the owner's and the house's
    entity ids and the street of the house (``_street``; ``_house_known`` when the ``house`` table has it),
    in owner order."""
    a_owner = f"assignments_{owner_type}"
    query = (
        f"SELECT o.entity_id::VARCHAR AS {quoted(owner_id)}, h.entity_id::VARCHAR AS house_id, "
        "l.relation::VARCHAR AS relation, l.feed::VARCHAR AS feed, l.record_date, "
        "s.street_code AS _street, s.house_id IS NOT NULL AS _house_known "
        f"FROM links l JOIN {quoted(a_owner)} o ON o.record_key = l.from_key "
        "JOIN assignments_house h ON h.record_key = l.to_key "
        "LEFT JOIN house s ON s.house_id = h.entity_id "
        f"WHERE l.kind = '{owner_type}_house' AND o.entity_id IS NOT NULL AND h.entity_id IS NOT NULL "
        f"AND l.relation IS NOT NULL ORDER BY {quoted(owner_id)}, l._rn"
    )
    return query, ["links", a_owner, "assignments_house", "house"]


def person_organisation_rows_query() -> tuple[str, list[str]]:
    """就业 links with both records resolved, then the linked legal representatives (法定代表人), in person order."""
    query = (
        "SELECT * EXCLUDE (_part, _rn) FROM ("
        "SELECT p.entity_id::VARCHAR AS person_id, o.entity_id::VARCHAR AS org_id, "
        "l.relation::VARCHAR AS relation, l.feed::VARCHAR AS feed, 0 AS _part, l._rn AS _rn "
        "FROM links l JOIN assignments_person p ON p.record_key = l.from_key "
        "JOIN assignments_organisation o ON o.record_key = l.to_key "
        "WHERE l.kind = 'person_organisation' AND p.entity_id IS NOT NULL AND o.entity_id IS NOT NULL "
        "UNION ALL SELECT legal_rep_person_id::VARCHAR, org_id::VARCHAR, '法定代表人', feed::VARCHAR, 1, _rn "
        "FROM legal_reps WHERE legal_rep_person_id IS NOT NULL AND org_id IS NOT NULL"
        ") ORDER BY person_id, _part, _rn"
    )
    return query, ["links", "assignments_person", "assignments_organisation", "legal_reps"]


def organisation_address_rows_query(inputs: Inputs) -> tuple[str, list[str]] | None:
    """Every bound address of every resolved organisation mention (``address_code`` as 注册,
    ``business_address_code`` as 经营), in organisation order; None when the mentions have neither column."""
    have = set(inputs.columns("mentions_organisation"))
    parts = [
        f"SELECT a.entity_id::VARCHAR AS org_id, m.{quoted(column)}::VARCHAR AS address_code, "
        f"'{relation}' AS relation, m.feed::VARCHAR AS feed, {n} AS _part, m._rn AS _rn "
        "FROM mentions_organisation m JOIN assignments_organisation a ON a.record_key = m.record_key "
        f"WHERE a.entity_id IS NOT NULL AND m.{quoted(column)} IS NOT NULL"
        for n, (column, relation) in enumerate((("address_code", "注册"), ("business_address_code", "经营")))
        if column in have
    ]
    if not parts:
        return None
    query = f"SELECT * EXCLUDE (_part, _rn) FROM ({' UNION ALL '.join(parts)}) ORDER BY org_id, _part, _rn"
    return query, ["mentions_organisation", "assignments_organisation"]


def person_lookups_query() -> tuple[str, list[str]]:
    """Per person with a current home (居住) or a job (就业), in id order: the home's house, that house's address
    and grid (``_house_known`` when the ``house`` table has it) and the employer (the first org id)."""
    query = (
        "WITH home AS (SELECT person_id, house_id FROM person_house "
        "WHERE relation = '居住' AND is_current), "
        "job AS (SELECT person_id, min(org_id) AS employer_org_id FROM person_organisation "
        "WHERE relation = '就业' GROUP BY person_id) "
        f"SELECT COALESCE(home.person_id, job.person_id) AS {ENTITY_KEY}, home.house_id AS residence_house_id, "
        "h.address_code AS house_address_code, h.grid_code AS house_grid_code, "
        "h.house_id IS NOT NULL AS _house_known, job.employer_org_id "
        "FROM home FULL JOIN job ON job.person_id = home.person_id "
        f"LEFT JOIN house h ON h.house_id = home.house_id ORDER BY {ENTITY_KEY}"
    )
    return query, ["person_house", "person_organisation", "house"]


__all__ = [
    "ENTITY_KEY",
    "entity_lists_query",
    "house_relation_rows_query",
    "organisation_address_rows_query",
    "person_lookups_query",
    "person_organisation_rows_query",
]
