"""Check characters of the codes the sample district issues (see shared/docs/domain.md).

- 公民身份号码 (GB 11643-1999): 17 digits + check ``"10X98765432"[Σ aᵢwᵢ mod 11]``; legacy 15-digit form.
- 统一社会信用代码 (GB 32100-2015): 17 characters + check over the 31-character set without I O S V Z.
- 组织机构代码 (GB 11714-1997): 8 characters + check ``11 − Σ cᵢwᵢ mod 11`` (10 → X, 11 → 0), which sits
  inside a credit code at positions 9–17.

These are the generator's own implementations; the tests verify the generated codes with independent ones.
"""

from __future__ import annotations

from warehouse.errors import GridhubError

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
CREDIT_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
ORG_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_CREDIT_VALUE = {c: i for i, c in enumerate(CREDIT_CHARSET)}


class CodeError(GridhubError, ValueError):
    """A code body has the wrong length or a character outside its character set."""


def id_check_char(body17: str) -> str:
    """The GB 11643 check character for the first 17 digits of a resident ID."""
    if len(body17) != 17 or not body17.isdigit():
        raise CodeError(f"resident ID body must be 17 digits, got {body17!r}")
    return ID_CHECK[sum(int(d) * w for d, w in zip(body17, ID_WEIGHTS, strict=True)) % 11]


def make_resident_id(area: str, birth_yyyymmdd: str, seq: int) -> str:
    """An 18-character resident ID: area 6 + birth date 8 + sequence 3 (odd male, even female) + check."""
    body = f"{area}{birth_yyyymmdd}{seq:03d}"
    return body + id_check_char(body)


def legacy_id(id18: str) -> str:
    """The 15-digit form of an 18-character ID issued before 1999: area 6 + YYMMDD + sequence 3, no check."""
    if len(id18) != 18:
        raise CodeError(f"not an 18-character ID: {id18!r}")
    return id18[:6] + id18[8:17]


def _org_value(c: str) -> int:
    if c.isdigit():
        return int(c)
    if "A" <= c <= "Z":
        return ord(c) - ord("A") + 10
    raise CodeError(f"organisation-code character {c!r} is not 0-9 or A-Z")


def org_code_check_char(body8: str) -> str:
    """The GB 11714 check character of an 8-character organisation-code body."""
    if len(body8) != 8:
        raise CodeError(f"organisation-code body must be 8 characters, got {body8!r}")
    c = 11 - sum(_org_value(ch) * w for ch, w in zip(body8, ORG_CODE_WEIGHTS, strict=True)) % 11
    return {10: "X", 11: "0"}.get(c, str(c))


def credit_check_char(body17: str) -> str:
    """The GB 32100 check character for the first 17 characters of a unified social credit code."""
    if len(body17) != 17:
        raise CodeError(f"credit-code body must be 17 characters, got {body17!r}")
    try:
        total = sum(_CREDIT_VALUE[ch] * w for ch, w in zip(body17, CREDIT_WEIGHTS, strict=True))
    except KeyError as e:
        raise CodeError(f"credit-code character {e.args[0]!r} is not in the GB 32100 set") from None
    return CREDIT_CHARSET[(31 - total % 31) % 31]


def make_credit_code(authority_type: str, division6: str, org_body8: str) -> str:
    """A credit code: authority+type (2) + division (6) + organisation code (8 + GB 11714 check) + check."""
    body = authority_type + division6 + org_body8 + org_code_check_char(org_body8)
    return body + credit_check_char(body)
