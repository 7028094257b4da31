"""Check characters of China's identity codes (校验码), written once, over matrices of code bytes.

The one leaf every package may import: it imports nothing of gridhub's. ``matching.normalize`` validates
and normalises feed values with it; the warehouse validation and privacy scrubber check whole Arrow columns
with it (:mod:`warehouse.codes`); the sample district's own, independent implementation
(``gridhub/sample/codes.py``) is tested against it.

- 公民身份号码, GB 11643-1999: ``"10X98765432"[Σ aᵢ·wᵢ mod 11]`` over the 17-digit body.
- 统一社会信用代码, GB 32100-2015: ``charset[(31 − Σ vᵢ·wᵢ mod 31) mod 31]`` over the 17-character body.
- 组织机构代码, GB 11714: ``11 − Σ cᵢwᵢ mod 11`` over the 8-character body; 10 is ``X``, 11 is ``0``.

Each algorithm is a numpy matrix product over an ``(n, width)`` matrix of ASCII bytes, so a column of a
million codes costs one call; the one-value functions wrap the same code.
"""

from __future__ import annotations

import numpy as np

from warehouse.errors import GridhubError

ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
ID_CHECK = "10X98765432"
ID_CHECK_BYTES = np.frombuffer(ID_CHECK.encode("ascii"), dtype=np.uint8)
CREDIT_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS = np.array([1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28], dtype=np.int64)
CREDIT_CHARSET_BYTES = np.frombuffer(CREDIT_CHARSET.encode("ascii"), dtype=np.uint8)
#: ASCII byte → its value in the credit-code character set (0–30), -1 for a byte outside the set.
CREDIT_VALUE = np.full(256, -1, dtype=np.int64)
CREDIT_VALUE[CREDIT_CHARSET_BYTES] = np.arange(len(CREDIT_CHARSET))
ORG_CODE_WEIGHTS = np.array([3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)


class CodeFormatError(GridhubError, ValueError):
    """A code body given to a check-character function has the wrong length or characters."""


def resident_id_check_chars(codes: np.ndarray) -> np.ndarray:
    """GB 11643 check characters, as ASCII bytes, of the rows of an ``(n, ≥17)`` matrix of ASCII digits.

    ``"10X98765432"[Σ aᵢ·wᵢ mod 11]`` over the first 17 columns, one matrix product for all rows.
    """
    digits = codes[:, :17].astype(np.int64) - 48
    return ID_CHECK_BYTES[(digits @ ID_WEIGHTS) % 11]


def resident_id_check_char(body17: str) -> str:
    """GB 11643 check character of the first 17 digits: ``"10X98765432"[Σ aᵢ·wᵢ mod 11]``.

    >>> resident_id_check_char("11010519491231002")
    'X'
    """
    if len(body17) != 17 or not body17.isascii() or not body17.isdigit():
        raise CodeFormatError(f"a resident ID body is 17 digits, got {body17!r}")
    return chr(resident_id_check_chars(ascii_row(body17))[0])


def ascii_row(code: str) -> np.ndarray:
    """``(1, len(code))`` matrix of the ASCII codes of one code."""
    return np.frombuffer(code.encode("ascii"), dtype=np.uint8).reshape(1, len(code))


def credit_code_check_chars(values: np.ndarray) -> np.ndarray:
    """GB 32100 check characters, as ASCII bytes, of the rows of an ``(n, ≥17)`` matrix of character values.

    ``values`` holds each character's value in :data:`CREDIT_CHARSET` (``CREDIT_VALUE[ascii]``, 0–30); the check
    is ``charset[(31 − Σ vᵢ·wᵢ mod 31) mod 31]`` over the first 17 columns.
    """
    return CREDIT_CHARSET_BYTES[(31 - (values[:, :17] @ CREDIT_WEIGHTS) % 31) % 31]


def credit_code_check_char(body17: str) -> str:
    """GB 32100 check character: ``charset[(31 − Σ vᵢ·wᵢ mod 31) mod 31]`` over the 17-character body.

    >>> credit_code_check_char("91350100M000100Y4")
    '3'
    """
    if len(body17) != 17 or not body17.isascii():
        raise CodeFormatError(f"a credit code body is 17 characters, got {body17!r}")
    values = CREDIT_VALUE[ascii_row(body17.upper())]
    if (values < 0).any():
        raise CodeFormatError(f"credit codes use only {CREDIT_CHARSET}, got {body17!r}")
    return chr(credit_code_check_chars(values)[0])


def organisation_code_check_chars(codes: np.ndarray) -> np.ndarray:
    """GB 11714 check characters, as ASCII codes, of an ``(n, 8)`` matrix of ASCII digits and upper-case letters.

    ``11 − Σ cᵢwᵢ mod 11`` with digits worth 0–9 and letters 10–35; 10 is written ``X`` and 11 ``0``.
    """
    chars = codes.astype(np.int64)
    vals = np.where((chars >= 48) & (chars <= 57), chars - 48, chars - 55)
    r = 11 - (vals @ ORG_CODE_WEIGHTS) % 11
    return np.where(r == 10, ord("X"), np.where(r == 11, ord("0"), r + 48))


def organisation_code_check_char(body8: str) -> str:
    """GB 11714 check character of the 8-character organisation code body (``11 − Σ cᵢwᵢ mod 11``; 10 → X)."""
    if len(body8) != 8 or not body8.isascii() or not body8.isalnum():
        raise CodeFormatError(f"an organisation code body is 8 letters or digits, got {body8!r}")
    return chr(organisation_code_check_chars(ascii_row(body8.upper()))[0])
