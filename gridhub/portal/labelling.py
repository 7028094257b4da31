"""Blind labelling in the portal (盲标): a labeller answers the current run's evaluation sample one pair at a
time, with no score, band or link status shown (:mod:`gridhub.labelling`).

- ``GET /label`` — progress (n of N of the labeller's share labelled) and the next unlabelled pair side by
  side, or "all labelled", or, when the current run has no sample, what to run (``gridhub evaluate``).
- ``POST /label/<pair_id>`` — ``same`` / ``different`` / ``not_sure``, written into the sample's
  ``labels.csv`` (the file ``gridhub evaluate LABELS`` reads) and audited (``blind_label``) with what was shown.

Only reviewer accounts with ``blind_labelling: true`` (``portal.reviewers``) get here: others get a 403. A pair
outside the labeller's share gets a 403 (audited ``blind_label_refused``); an answer for a pair of a sample drawn
again since, or one someone labelled meanwhile, gets a 409.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from gridhub.config import PortalReviewer
from gridhub.labelling import (
    ANSWERS,
    NoSample,
    Sample,
    load_sample,
    next_pair,
    pair_token,
    pair_view,
    record_label,
)
from gridhub.portal.audit import append_audit
from gridhub.portal.auth import csrf_ok
from gridhub.portal.site import PortalSite, base_path

NOT_A_LABELLER = "此页面仅供盲标人员使用。 / This page is for blind labellers only."
NOT_YOURS = "没有这个记录对，或它不在您的范围内。 / No such pair, or it is not in your share."
STALE = (
    "样本已更新或此记录对已被标注，请刷新。 / The sample changed or the pair was labelled meanwhile: reload."
)
BAD_ANSWER = "无效的答复。 / Not a valid answer."


def labelling_routes(site: PortalSite) -> APIRouter:
    """The labelling page and its answer (see the module docstring)."""
    router = APIRouter()

    @router.get("/label")
    def label_page(request: Request) -> Response:
        found = _labeller(site, request)
        if isinstance(found, Response):
            return found
        session, name, reviewer, sample = found
        if isinstance(sample, str):
            return site.render(request, "label.html", session, sample=None, run_id=sample)
        pair = next_pair(sample)
        ctx: dict = {"sample": sample, "run_id": sample.run_id, "pair_id": pair, "role": reviewer.role}
        if pair is not None:
            ctx["view"] = pair_view(site.ws, sample, pair, reveal=reviewer.role == "data_steward")
            ctx["token"] = pair_token(sample, pair)
            if reviewer.role == "data_steward":  # identifiers shown unmasked: audited, as in the review queue
                append_audit(
                    site.ws, "blind_label_reveal", reviewer=name, pair_id=pair, run_id=sample.run_id,
                    client_ip=site.client(request),
                )  # fmt: skip
        return site.render(request, "label.html", session, **ctx)

    @router.post("/label/{pair_id}")
    async def answer(request: Request, pair_id: str) -> Response:
        session = site.session_of(request)
        form = await request.form(max_files=0, max_fields=8, max_part_size=1024)
        if not csrf_ok(session, str(form.get("csrf", ""))):
            return site.render(request, "message.html", session, status=400, message=STALE)
        found = _labeller(site, request)
        if isinstance(found, Response):
            return found
        session, name, reviewer, sample = found
        if isinstance(sample, str):
            return site.render(request, "message.html", session, status=409, message=STALE)
        if pair_id not in sample.pair_ids:
            append_audit(
                site.ws,
                "blind_label_refused",
                reviewer=name,
                pair_id=pair_id[:40],
                client_ip=site.client(request),
            )
            return site.render(request, "message.html", session, status=403, message=NOT_YOURS)
        given = str(form.get("answer", ""))
        if given not in ANSWERS:
            return site.render(request, "message.html", session, status=400, message=BAD_ANSWER)
        if str(form.get("token", "")) != pair_token(sample, pair_id):
            return site.render(request, "message.html", session, status=409, message=STALE)
        shown = pair_view(site.ws, sample, pair_id, reveal=reviewer.role == "data_steward")
        if not record_label(site.ws, sample, pair_id, given, labeller=name):
            return site.render(request, "message.html", session, status=409, message=STALE)
        append_audit(
            site.ws, "blind_label", reviewer=name, role=reviewer.role, scope=list(reviewer.scope),
            pair_id=pair_id, run_id=sample.run_id, answer=ANSWERS[given], shown=shown,
            client_ip=site.client(request),
        )  # fmt: skip
        return RedirectResponse(base_path(request) + "/label", status_code=303)

    return router


def _labeller(
    site: PortalSite, request: Request
) -> tuple[dict, str, PortalReviewer, Sample | str] | Response:
    """(session, name, account, sample) of a signed-in labeller, or the response refusing the request; the
    sample is the current run's in the account's scope, or the run id that has none ("" nothing published)."""
    session, name = site.signed_in(request)
    if name is None:
        return RedirectResponse(base_path(request) + "/", status_code=303)
    reviewer = site.reviewer(name)
    if reviewer is None or not reviewer.blind_labelling:
        return site.render(request, "message.html", session, status=403, message=NOT_A_LABELLER)
    try:
        return session, name, reviewer, load_sample(site.ws, reviewer.scope)
    except NoSample as e:
        return session, name, reviewer, str(e.args[0]) if e.args else ""


__all__ = ["labelling_routes"]
