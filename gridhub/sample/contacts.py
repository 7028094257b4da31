"""The 联系电话 市场监管 registers for each organisation of the sample district, and whose number it is.

A registration's 联系电话 is whatever the applicant wrote on the form: for a sole trader (个体工商户) nearly
always the operator's own mobile, for a small company often the owner-manager's mobile, else the office's
landline or the mobile of the clerk who handles the paperwork (联络员); big companies, branches and public
institutions give a switchboard landline or a staff member's number. Some rows have none. The rates are
in :data:`CONTACT_PHONE` (reasons in docs/sample-district.md). The numbers are drawn from their own random
stream, and the way 市场监管 keys them (format noise, a share missing) too, so adding them changed no other
value of the sample.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gridhub.sample import noise
from gridhub.sample.draws import Draws
from gridhub.sample.persons import LANDLINE_AREA, MOBILE_PREFIXES
from gridhub.sample.spool import group_lists

#: Whose number an organisation registers, by kind of organisation (as :data:`~gridhub.sample.population.
#: REP_HOME`): (the representative's own phone, a member of the representative's household, a staff
#: member, the office landline); the rest register none.
CONTACT_PHONE = {
    "个体工商户": (
        0.80,
        0.05,
        0.00,
        0.07,
    ),  # the operator's mobile; sometimes the spouse's or the shop's line
    "企业": (0.45, 0.00, 0.15, 0.32),  # owner-manager's mobile, else the office or the 联络员
    "factory": (0.00, 0.00, 0.20, 0.72),  # a switchboard, or the clerk who files the returns
    "分公司": (0.00, 0.00, 0.20, 0.72),
    "institution": (0.00, 0.00, 0.15, 0.77),
}
#: Whose number the ``contact_phone_of`` truth column says it is, in the order of :data:`CONTACT_PHONE`.
CONTACT_OF = ("representative", "household", "staff", "office")


def assign_contact_phones(
    rng: np.random.Generator, orgs: pd.DataFrame, persons: pd.DataFrame, kinds: pd.Series
) -> None:
    """Each organisation's registered 联系电话 (in place): ``contact_phone`` (the number, ``""`` for none),
    ``contact_phone_of`` (one of :data:`CONTACT_OF`, or ``""``), and how 市场监管 keys it: ``_phone_written``
    and ``_phone_noise`` (the noise kinds). ``kinds`` is each organisation's key of :data:`CONTACT_PHONE`.

    A representative living outside the district has a mobile no person of the district has; one without
    a phone of their own (none recorded) registers the office line instead, as does a household or an
    organisation without anyone to give the number of."""
    d = Draws(rng)
    phone = persons.set_index("person_key")["phone"]
    household = persons.set_index("person_key")["household_key"]
    adults = persons[(persons["_age"] >= 18) & (persons["phone"] != "")]
    by_household = group_lists(adults["household_key"], adults["person_key"])
    employed = adults[adults["employer_org_key"] != ""]
    staff_of = group_lists(employed["employer_org_key"], employed["person_key"])
    numbers, whose, written, kinds_written = [], [], [], []
    for kind, org_key, rep in zip(kinds, orgs["org_key"], orgs["legal_rep_key"], strict=True):
        u, shares = d.u(), CONTACT_PHONE[kind]
        cut = np.cumsum(shares)
        choice = int(np.searchsorted(cut, u, side="right"))
        number, of = "", CONTACT_OF[choice] if choice < len(CONTACT_OF) else ""
        if of == "representative":
            number = phone.get(rep, "") if rep in phone.index else _mobile(d)
        elif of == "household":
            others = [k for k in by_household.get(household.get(rep), []) if k != rep]
            number = phone[d.pick(others)] if others else ""
        elif of == "staff":
            others = [k for k in staff_of.get(org_key, []) if k != rep]
            number = phone[d.pick(others)] if others else ""
        if of and not number:  # nobody to give the number of: the office line
            of = "office"
        if of == "office":
            number = f"{LANDLINE_AREA}-{d.integer(2000000, 9000000)}"
        as_keyed, noise_kinds = noise.phone(d, number, noise.MARKET)
        numbers.append(number)
        whose.append(of)
        written.append(as_keyed)
        kinds_written.append(noise_kinds)
    orgs["contact_phone"] = numbers
    orgs["contact_phone_of"] = whose
    orgs["_phone_written"] = written
    orgs["_phone_noise"] = kinds_written


def _mobile(d: Draws) -> str:
    return d.pick(MOBILE_PREFIXES) + f"{d.integer(0, 10**8):08d}"
