"""法定代表人证件号码 as 市场监管 extracts give it: masked (脱敏) in several shapes, or a passport / 通行证 number.

A masked ID links the namesake whose valid ID shows through it and rules out every namesake whose ID (or
birth date, or sex) disagrees with a character it shows; a passport number links no one by ID, so the name
with supporting evidence decides, else the organisation keeps the name with the reason.
"""

from __future__ import annotations

import pytest
from test_legal_reps import ID_A, ID_B, ID_C, link, organisation, persons


def mask(id18: str, head: int, tail: int, stars: int | None = None) -> str:
    """``id18`` with its first ``head`` and last ``tail`` characters shown (``stars``: None keeps 18)."""
    return id18[:head] + "*" * (18 - head - tail if stars is None else stars) + id18[18 - tail :]


#: (head, tail, stars): the shapes the sample plants (gridhub/sample/rep_ids.py) that show four characters or
#: more past the area code (4 + 2 has its own test); ＊ is folded to * before the linker (test_legal_reps)
STRONG = [(6, 4, None), (6, 4, 10), (3, 4, None), (10, 4, None)]


@pytest.mark.parametrize(("head", "tail", "stars"), STRONG)
def test_each_masking_shape_links_the_namesake_whose_id_shows_through_it(head, tail, stars):
    """The area code and the last four (or birth year and the last four) shown: one namesake in 10,000 agrees
    by chance, so the agreement links a common name's namesake; the other namesake, whose ID shows another
    last four, is ruled out even though it lives at the organisation's address."""
    people = persons(
        {"name": "王伟", "id_number": ID_A, "address_code": "A1"},
        {"name": "王伟", "id_number": ID_B, "address_code": "A5"},
    )
    org = organisation(
        legal_rep="王伟", legal_rep_id_invalid=mask(ID_B, head, tail, stars), address_code="A1"
    )
    assert link(people, org) == {"person": "P1", "link": "name_and_id_masked"}


def test_a_mask_of_another_length_is_read_as_the_same_id():
    """``440103**********1234``: ten stars for eight hidden digits; the shown head and tail are the two ends."""
    people = persons({"name": "王伟", "id_number": ID_B}, {"name": "王伟", "id_number": ID_A})
    org = organisation(legal_rep="王伟", legal_rep_id_invalid=mask(ID_B, 6, 4, 10))
    assert link(people, org) == {"person": "P0", "link": "name_and_id_masked"}


@pytest.mark.parametrize(
    ("head", "tail", "stars"), [(6, 4, None), (6, 4, 10), (4, 2, None), (3, 4, None), (10, 4, None)]
)
def test_a_masked_id_whose_shown_characters_disagree_links_no_one(head, tail, stars):
    """The only 王伟 in the district lives at the organisation's address, but the masked ID shows characters
    his valid ID does not have: two IDs, two people (the representative lives elsewhere)."""
    outsider = ID_C[:14] + ("0021" if ID_C[14:] != "0021" else "0013")  # same area, birth, other last four
    people = persons({"name": "王伟", "id_number": ID_A, "address_code": "A1"})
    org = organisation(
        legal_rep="王伟", legal_rep_id_invalid=mask(outsider, head, tail, stars), address_code="A1"
    )
    assert link(people, org) == {"person": None, "link": "no_person_with_id"}


def test_a_namesake_with_a_different_masked_id_is_not_linked_on_other_evidence():
    """Two 王伟: the one insured at the organisation's address has an ID the mask's shown digits rule out;
    the other agrees and is linked on the mask alone."""
    people = persons(
        {"name": "王伟", "id_number": ID_A, "address_code": "A1", "phone": "13900000001"},
        {"name": "王伟", "id_number": ID_C},
    )
    org = organisation(
        legal_rep="王伟", legal_rep_id_invalid=mask(ID_C, 3, 4), address_code="A1", org_phone="13900000001"
    )
    assert link(people, org) == {"person": "P1", "link": "name_and_id_masked"}


def test_four_and_two_shown_rank_with_the_building():
    """``4453************21`` shows two digits past the area code: one namesake in a hundred agrees by
    chance. That supports a name nobody else has; for a common name it only rules namesakes out."""
    masked = mask(ID_B, 4, 2)
    assert link(
        persons({"name": "王伟", "id_number": ID_B}),
        organisation(legal_rep="王伟", legal_rep_id_invalid=masked),
    ) == {
        "person": "P0",
        "link": "name_and_id_masked",
    }
    two = persons({"name": "王伟", "id_number": ID_A}, {"name": "王伟", "id_number": ID_B})
    assert link(two, organisation(legal_rep="王伟", legal_rep_id_invalid=masked)) == {
        "person": None,
        "link": "no_supporting_evidence",
    }
    # with the address, the namesake the mask leaves is linked (the other is ruled out, not outweighed)
    two = persons(
        {"name": "王伟", "id_number": ID_A, "address_code": "A1"},
        {"name": "王伟", "id_number": ID_B, "address_code": "A1"},
    )
    org = organisation(legal_rep="王伟", legal_rep_id_invalid=masked, address_code="A1")
    assert link(two, org) == {"person": "P1", "link": "name_and_address"}


def test_a_mask_showing_the_birth_year_rules_out_a_namesake_born_in_another_year():
    """10 + 4 shown (the railway ticket's mask): the birth year is there. A namesake with no ID on record,
    born in another year, is not the representative; one born that year is kept and linked by the address."""
    shown = mask(ID_B, 10, 4)  # born 1985
    people = persons(
        {"name": "王伟", "birth_date": "1990-01-01", "address_code": "A1"},
        {"name": "王伟", "birth_date": "1985-07-07", "address_code": "A1"},
    )
    org = organisation(legal_rep="王伟", legal_rep_id_invalid=shown, address_code="A1")
    assert link(people, org) == {"person": "P1", "link": "name_and_address"}


def test_a_shown_sex_digit_rules_out_a_namesake_of_the_other_sex():
    """The 17th character is odd for a man: a mask showing the last two rules out a woman of the name."""
    shown = mask(ID_B, 6, 2)  # ID_B's 17th digit: 2, a woman
    people = persons(
        {"name": "王敏", "sex": "M", "address_code": "A1"},
        {"name": "王敏", "sex": "F", "address_code": "A1"},
    )
    org = organisation(legal_rep="王敏", legal_rep_id_invalid=shown, address_code="A1")
    assert link(people, org) == {"person": "P1", "link": "name_and_address"}


def test_a_mask_that_shows_too_little_is_no_evidence_but_still_rules_out():
    """``4****************8`` shows one character past the area code: agreeing with it says nothing (one in
    eleven), but a namesake whose check character differs is still another person."""
    only_a = persons({"name": "王伟", "id_number": ID_A, "address_code": "A1"})
    agrees = organisation(legal_rep="王伟", legal_rep_id_invalid=mask(ID_A, 1, 1), address_code="A1")
    assert link(only_a, agrees) == {"person": "P0", "link": "name_and_address"}
    assert link(only_a, organisation(legal_rep="王伟", legal_rep_id_invalid=mask(ID_A, 1, 1))) == {
        "person": None,
        "link": "no_supporting_evidence",
    }
    differs = organisation(legal_rep="王伟", legal_rep_id_invalid=mask(ID_B, 1, 1), address_code="A1")
    assert ID_A[-1] != ID_B[-1] and link(only_a, differs) == {"person": None, "link": "no_person_with_id"}


def test_a_masked_id_that_rules_out_every_namesake_as_written_links_a_homophone_it_shows_through():
    """Seen at 100,000 persons: 市场监管 keyed 张朋 for 张鹏. The district's 张朋 has another ID, which the mask
    rules out; 张鹏's ID shows through the mask: the homophone with the stronger evidence."""
    people = persons({"name": "张朋", "id_number": ID_A}, {"name": "张鹏", "id_number": ID_B})
    org = organisation(legal_rep="张朋", legal_rep_id_invalid=mask(ID_B, 3, 4))
    assert link(people, org) == {"person": "P1", "link": "homophone_and_id_masked"}


@pytest.mark.parametrize("document", ["H1234567801", "M0987654301", "08123456", "E12345678"])
def test_a_passport_or_pass_number_links_no_one_by_id(document):
    """A representative from Hong Kong, Macao, Taiwan or abroad registers with a 通行证 or passport number: no
    resident ID can match it, and it rules no namesake out. The name with evidence decides, else the
    organisation keeps the name with the reason."""
    people = persons(
        {"name": "陈家明", "id_number": ID_A, "address_code": "A1"},
        {"name": "陈家明", "id_number": ID_B},
    )
    org = organisation(legal_rep="陈家明", legal_rep_id_invalid=document, address_code="A1")
    assert link(people, org) == {"person": "P0", "link": "name_and_address"}
    org = organisation(legal_rep="陈家明", legal_rep_id_invalid=document)
    assert link(people, org) == {"person": None, "link": "no_supporting_evidence"}
