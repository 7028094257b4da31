"""How 市场监管 writes a 法定代表人证件号码: in full, masked (脱敏), absent, or a passport / 通行证 number.

Market registration is 实名登记 (the representative is verified by name, 身份证号 and face before a
registration is accepted), so the registration data hold the representative's document number on almost
every row. What a district receives is an extract: the number in full, or masked for sharing (脱敏: a few
leading and trailing characters shown, the rest ``*`` or ``＊``), and absent only on old records. A
representative from Hong Kong, Macao, Taiwan or abroad registers with a 回乡证 / 台胞证 / passport number,
which no resident ID can match. The rates are in :data:`REP_ID_FORM` and :data:`MASKS` (reasons in
docs/sample-district.md, "法定代表人证件号码"); they are judgements of real extracts, set before the linking
was measured.
"""

from __future__ import annotations

from gridhub.sample import noise
from gridhub.sample.draws import Draws

#: How a 市场监管 row gives a resident representative's ID: in full (then keyed with 市场监管's ID noise),
#: masked (one of :data:`MASKS`), or not at all (an old record, a field left empty in a migration).
REP_ID_FORM = (("full", 0.60), ("masked", 0.37), ("absent", 0.03))
#: Of representatives living outside the district: from Hong Kong, Macao, Taiwan or abroad, registered
#: with a 通行证 or passport number (about 1.5 % of 市场监管 rows: foreign and 港澳台 investors).
FOREIGN_SHARE_OF_OUTSIDE = 0.08
#: Mask shapes (shown leading characters, shown trailing characters, number of ``*``: None keeps the
#: length of 18) and their shares among masked rows. 6 + 4 is the common rule (area code and last four);
#: some systems write a fixed run of stars; 4 + 2 and 3 + 4 are stricter rules; 10 + 4 (area code and
#: birth year shown) is the railway ticket's.
MASKS = (
    ((6, 4, None), 0.45),
    ((6, 4, 10), 0.10),
    ((4, 2, None), 0.15),
    ((3, 4, None), 0.15),
    ((10, 4, None), 0.15),
)
#: Of masked rows: written with the full-width ＊ (a system with a Chinese input method's asterisk).
FULLWIDTH_STAR = 0.2
#: The documents of a representative who holds no resident ID: ((kind, first letter drawn from, digits), share).
FOREIGN_DOCUMENTS = (
    (("hk_pass", "H", 10), 0.40),  # 港澳居民来往内地通行证 (回乡证), Hong Kong: H + 8 + 2 digits
    (("macao_pass", "M", 10), 0.15),  # the same, Macao
    (("taiwan_pass", "", 8), 0.15),  # 台湾居民来往大陆通行证 (台胞证): 8 digits
    (("passport", "AEKPS", 8), 0.30),  # a foreign passport: a letter and 8 digits (many countries' shape)
)


def masked(d: Draws, id18: str) -> tuple[str, list[str]]:
    """``id18`` masked by one of :data:`MASKS`, and its noise kind (``legal_rep_id_masked_<head>_<tail>``, with
    ``_<n>_stars`` when the mask does not keep the length)."""
    head, tail, stars = d.weighted(MASKS)
    star = "＊" if d.hit(FULLWIDTH_STAR) else "*"
    run = stars if stars is not None else 18 - head - tail
    kind = f"legal_rep_id_masked_{head}_{tail}" + ("" if stars is None else f"_{stars}_stars")
    return id18[:head] + star * run + id18[18 - tail :], [kind]


def foreign_document(d: Draws) -> tuple[str, list[str]]:
    """A 通行证 or passport number (:data:`FOREIGN_DOCUMENTS`) and its noise kind."""
    kind, letters, digits = d.weighted(FOREIGN_DOCUMENTS)
    prefix = d.pick(letters) if letters else ""
    number = "".join(str(d.integer(0, 10)) for _ in range(digits))
    return prefix + number, [f"legal_rep_{kind}"]


def written(d: Draws, person: dict, outside: bool, p: noise.Profile) -> tuple[str, list[str], bool]:
    """The 法定代表人证件号码 a 市场监管 row gives for ``person`` (``id_number``, ``birth_date``): the text,
    its noise kinds, and whether it is the ID in full (as keyed, with ``p``'s ID noise)."""
    if outside and d.hit(FOREIGN_SHARE_OF_OUTSIDE):
        text, kinds = foreign_document(d)
        return text, kinds, False
    form = d.weighted(REP_ID_FORM)
    if form == "absent":
        return "", ["legal_rep_id_blank"], False
    if form == "masked":
        text, kinds = masked(d, person["id_number"])
        return text, kinds, False
    text, kinds = noise.resident_id(d, person["id_number"], person["birth_date"], p)
    return text, kinds, True
