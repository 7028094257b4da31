"""The default matching settings of the four entity types (:class:`matching.er.settings.EntitySettings` reads
them; a workspace overrides them in the ``matching:`` section of ``gridhub.yaml``, docs/entity-resolution.md)."""

from __future__ import annotations

_NAME = {"kind": "person_name", "tf": True}

DEFAULTS: dict[str, dict] = {
    "person": {
        "blocking": [
            {"name": "id_number", "on": ["id_number"]},
            {"name": "pinyin_birth", "on": ["name_pinyin", "birth_date"]},
            {"name": "phone", "on": ["phone"]},
            {"name": "address_surname", "on": ["address_code", "surname(name)"]},
            {"name": "name_birth_year", "on": ["name", "year(birth_date)"]},
            # an ID with a typo finds its owner: one wrong digit or swap leaves the first 10 or the last 7 as given
            {"name": "name_id_head", "on": ["name_pinyin", "prefix(id_number_given,10)"]},
            {"name": "name_id_tail", "on": ["name_pinyin", "suffix(id_number_given,7)"]},
        ],
        "comparisons": [
            {"name": "name", "columns": ["name", "name_pinyin"], **_NAME},
            {
                "name": "id_number",
                "kind": "code",
                # the number as given, valid or not (a typo stays evidence); else the valid one
                "columns": ["id_number_given", "id_number"],
                "options": {"checksum": "resident_id"},
            },
            {"name": "birth_date", "kind": "date", "columns": ["birth_date"]},
            {"name": "sex", "kind": "exact", "columns": ["sex"], "options": {"null_values": ["U", ""]}},
            {"name": "phone", "kind": "code", "columns": ["phone"]},
            {
                "name": "address",
                "kind": "address",
                "columns": ["address_code", "building_code", "grid_code", "address_text"],
            },
        ],
        "thresholds": {"match": 0.9, "review": 0.4},
        # a household shares phone, address and surname (not independent evidence): a match needs the ID, the
        # name (a homophone or a slip, not another given name) or, where a name is missing, the birth date
        "requires_any": [
            {"id_number": ["exact", "one_char", "transposition"]},
            {"name": ["exact", "homophone", "one_char"]},
            {"name": ["missing"], "birth_date": ["exact", "day_month_swap", "one_digit"]},
        ],
        "max_cluster_size": 40,
        "identity": [{"column": "id_number"}],
        "survivorship": {
            "exclude": ["id_number_given"],
            "default": ["priority", "recent", "complete"],
            "fields": {
                "phone": ["recent", "priority"],
                "address_code": ["recent", "priority"],
                "address_text": ["recent", "priority"],
                "building_code": ["recent", "priority"],
                "grid_code": ["recent", "priority"],
            },
            "null_values": {"sex": ["U"]},
        },
    },
    "organisation": {
        "blocking": [
            {"name": "credit_code", "on": ["credit_code"]},
            # 组织机构代码: an employer written with its old 9-character code meets the registered organisation,
            # whose credit code holds the same code as characters 9–17
            {"name": "org_code", "on": ["org_code"]},
            {"name": "name_core", "on": ["org_core(org_name)"]},
            {"name": "legal_rep_prefix", "on": ["legal_rep", "prefix(org_core(org_name),2)"]},
            {"name": "address_code", "on": ["address_code"]},
            {"name": "address_text_prefix", "on": ["address_text", "prefix(org_core(org_name),2)"]},
        ],
        "comparisons": [
            {"name": "org_name", "kind": "org_name", "columns": ["org_name"], "tf": True},
            {"name": "credit_code", "kind": "code", "columns": ["credit_code"]},
            {"name": "org_code", "kind": "code", "columns": ["org_code"]},
            {"name": "legal_rep", "kind": "person_name", "columns": ["legal_rep"]},
            {
                "name": "address",
                "kind": "address",
                "columns": ["address_code", "building_code", "grid_code", "address_text"],
            },
        ],
        "thresholds": {"match": 0.9, "review": 0.4, "cannot_link": 0.01},
        # 人社 names the employer (单位名称, often without its credit code) on every insured person's record:
        # one 单位 has dozens of mentions, so two random mentions agree on a name mostly because they match
        "correct_u_for_duplicates": True,
        "max_cluster_size": 60,
        # an employer written with its old 组织机构代码 holds the credit code that carries it (characters 9–17)
        "identity": [{"column": "credit_code", "implied_by": "org_code"}],
        "survivorship": {
            "rename": {"org_name": "name"},
            "collect": {"former_names": "org_name"},
            "fields": {"address_code": ["recent", "priority"]},
        },
    },
    "house": {
        # One bound standard address is one house, two are two (cannot_link); the text's numbers and place are
        # read only where a side is unbound (docs/entity-resolution.md, "Houses")
        "blocking": [
            {"name": "address_code", "on": ["address_code"]},
            # the text rules pair only where a side is not bound to a standard address: two bound mentions
            # are decided by their codes (identity), and a numbers key over a bound district is quadratic
            {"name": "address_text", "on": ["address_text"], "unless_both": "address_code"},
            {
                "name": "building_numbers",
                "on": ["building_code", "address_numbers(address_text)"],
                "unless_both": "address_code",
            },
            {
                "name": "numbers_place",
                "on": ["address_numbers(address_text)", "address_place(address_text)"],
                "unless_both": "address_code",
            },
        ],
        "comparisons": [
            {
                "name": "address",
                "kind": "address",
                "columns": ["address_code", "building_code", "grid_code", "address_text"],
                "options": {"distinct_codes": True, "local_text": True},
            },
            {
                "name": "numbers",
                "kind": "address_numbers",
                "columns": ["address_text"],
                "options": {"bound_code": "address_code"},
            },
            {
                "name": "place",
                "kind": "address_place",
                "columns": ["address_text"],
                # 滨江路7号 is not 滨江东路7号: a match rarely names two roads (typos read as one road)
                "options": {"bound_code": "address_code", "fixed_m": {"other_place": 0.01}},
            },
            {"name": "house_use", "kind": "exact", "columns": ["house_use"]},
            {
                "name": "house_area",
                "kind": "numeric",
                "columns": ["house_area"],
                "options": {"relative": [0.01, 0.1]},
            },
        ],
        "thresholds": {"match": 0.9, "review": 0.4, "cannot_link": 0.01},
        # a room-level standard address is exclusive: one code is one house, two codes never one (not even
        # through a chain of unbound texts), whatever the blocking reached
        "identity": [{"column": "address_code"}],
        # every resident's record names the flat (about four mentions a house), as 人社 names the 单位
        "correct_u_for_duplicates": True,
        "max_cluster_size": 200,
        "survivorship": {"rename": {"house_use": "use", "house_area": "area"}},
    },
    "facility": {
        "blocking": [
            {"name": "type_cell", "on": ["facility_type", "geocell(lon,lat,100)"]},
            {"name": "type_cell_shifted", "on": ["facility_type", "geocell_shifted(lon,lat,100)"]},
            {"name": "type_address", "on": ["facility_type", "address_code"]},
            {"name": "type_name", "on": ["facility_type", "facility_name"]},
        ],
        "comparisons": [
            {"name": "facility_type", "kind": "exact", "columns": ["facility_type"]},
            {"name": "facility_name", "kind": "string", "columns": ["facility_name"], "tf": True},
            {
                "name": "distance",
                "kind": "geo_distance",
                "columns": ["lon", "lat"],
                "options": {"meters": [10, 30, 100]},
            },
            {"name": "address", "kind": "address", "columns": ["address_code", "building_code", "grid_code"]},
        ],
        "thresholds": {"match": 0.9, "review": 0.4},
        # A facility ledger (设施台账) numbers each facility once: two records of one feed are two facilities,
        # even at the same door under the same name (two 消防栓 outside 解放路8号). Facilities are linked
        # across feeds only.
        "link_type": "link_only",
        "max_cluster_size": 20,
        "survivorship": {"rename": {"facility_name": "name"}},
    },
}
