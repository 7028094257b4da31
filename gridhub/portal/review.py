"""The review queue in the portal (复核): reviewers answer the cases of their scope (:mod:`gridhub.review_queue`).

- ``GET /review`` — the open cases in the reviewer's scope, oldest first, and the conflicts.
- ``GET /review/case/<id>`` — one case: a pair side by side with each comparison's level and weight (masked
  for ``grid_staff``), or an address text with its candidates.
- ``POST /review/case/<id>`` — the answer: ``same`` / ``different`` / ``not_sure`` for a pair;
  ``building:<code>`` / ``not_in_library`` / ``not_sure`` for an address. Written to the state
  (:mod:`gridhub.review_store`), so the next run follows it, and audited with what the reviewer saw.

Only reviewer accounts (``portal.reviewers``) get here; a department's session gets a 403. A case that is not
in the reviewer's queue (another scope, or no such case) gets the same 403, so ids of other grids' cases tell
nothing. An answer to a case of an older run (the queue moved on after the page was shown) is refused with 409.
"""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from gridhub.config import PortalReviewer
from gridhub.portal.audit import append_audit
from gridhub.portal.auth import csrf_ok
from gridhub.portal.site import PortalSite, base_path
from gridhub.review_queue import Case, NoPublishedRun, Queue, build_queue, pair_detail, scope_exists
from gridhub.review_store import record_address_decision, record_not_sure, record_pair_decision

NOT_A_REVIEWER = "此页面仅供复核人员使用。 / This page is for reviewers only."
NOT_YOURS = "没有这个待复核事项，或它不在您的范围内。 / No such case, or it is not in your scope."
STALE = (
    "待复核队列已更新，请刷新后重新查看。 / The queue has changed since: reload the case and answer again."
)
BAD_ANSWER = "无效的答复。 / Not a valid answer."
NOTHING_PUBLISHED = "还没有发布的运行结果，暂无待复核事项。 / Nothing is published yet: no cases to review."
PAIR_ANSWERS = ("same", "different", "not_sure")
SCOPE_WORDS = {"grid": "网格 / grid", "community": "社区 / community", "street": "街道 / street",
               "department": "部门 / department"}  # fmt: skip


def review_routes(site: PortalSite) -> APIRouter:
    """The queue, a case and its answer (see the module docstring)."""
    router = APIRouter()

    @router.get("/review")
    def queue_page(request: Request) -> Response:
        session, name, reviewer = _reviewer_of(site, request)
        if name is None:
            return RedirectResponse(base_path(request) + "/", status_code=303)
        if reviewer is None:
            return site.render(request, "message.html", session, status=403, message=NOT_A_REVIEWER)
        return site.render(
            request,
            "review.html",
            session,
            queue=_queue_of(site, reviewer),
            scope=reviewer.scope,
            scope_words=SCOPE_WORDS,
            role=reviewer.role,
            labeller=reviewer.blind_labelling,
            nothing=NOTHING_PUBLISHED,
            scope_known=scope_exists(site.ws, reviewer.scope),
        )

    @router.get("/review/case/{cid}")
    def case_page(request: Request, cid: str) -> Response:
        found = _find(site, request, cid)
        if isinstance(found, Response):
            return found
        session, name, reviewer, queue, case = found
        detail = _shown(site, queue, case, reviewer)
        if reviewer.role == "data_steward" and case.kind == "pair":  # identifiers shown unmasked: audited
            append_audit(
                site.ws, "review_reveal", reviewer=name, case_id=case.case_id, run_id=queue.run_id,
                record_keys=[case.record_key_l, case.record_key_r], client_ip=site.client(request),
            )  # fmt: skip
        return site.render(request, "review_case.html", session, case=case, run_id=queue.run_id, **detail)

    @router.post("/review/case/{cid}")
    async def answer(request: Request, cid: str) -> Response:
        session = site.session_of(request)
        form = await request.form(max_files=0, max_fields=8, max_part_size=1024)
        if not csrf_ok(session, str(form.get("csrf", ""))):
            return site.render(request, "message.html", session, status=400, message=STALE)
        found = _find(site, request, cid)
        if isinstance(found, Response):
            return found
        session, name, reviewer, queue, case = found
        if str(form.get("run_id", "")) != queue.run_id:
            return site.render(request, "message.html", session, status=409, message=STALE)
        given = str(form.get("answer", ""))
        shown = _shown(site, queue, case, reviewer)
        if not _record(site, queue, case, name, given):
            return site.render(request, "message.html", session, status=400, message=BAD_ANSWER)
        append_audit(
            site.ws, "review_decision", reviewer=name, role=reviewer.role, scope=list(reviewer.scope),
            case_id=case.case_id, kind=case.kind, run_id=queue.run_id, answer=given,
            case=asdict(case), shown=shown, client_ip=site.client(request),
        )  # fmt: skip
        return RedirectResponse(base_path(request) + "/review", status_code=303)

    return router


def _reviewer_of(site: PortalSite, request: Request) -> tuple[dict, str | None, PortalReviewer | None]:
    session, name = site.signed_in(request)
    return session, name, site.reviewer(name)


def _queue_of(site: PortalSite, reviewer: PortalReviewer) -> Queue | None:
    try:
        return build_queue(site.ws, reviewer.scope)
    except NoPublishedRun:
        return None


def _find(
    site: PortalSite, request: Request, cid: str
) -> tuple[dict, str, PortalReviewer, Queue, Case] | Response:
    """(session, reviewer name, account, queue, case) for case ``cid`` of the signed-in reviewer's queue, or
    the response refusing it (sign in; not a reviewer, 403; not in the queue, 403 and audited)."""
    session, name, reviewer = _reviewer_of(site, request)
    if name is None:
        return RedirectResponse(base_path(request) + "/", status_code=303)
    if reviewer is None:
        return site.render(request, "message.html", session, status=403, message=NOT_A_REVIEWER)
    queue = _queue_of(site, reviewer)
    case = queue.find(cid) if queue is not None else None
    if queue is None or case is None:
        append_audit(
            site.ws, "review_refused", reviewer=name, case_id=cid[:40], client_ip=site.client(request)
        )
        return site.render(request, "message.html", session, status=403, message=NOT_YOURS)
    return session, name, reviewer, queue, case


def _shown(site: PortalSite, queue: Queue, case: Case, reviewer: PortalReviewer) -> dict:
    """What the case page shows (and the audit keeps): the explanation of a pair, or nothing more."""
    if case.kind != "pair":
        return {"detail": None}
    detail = pair_detail(site.ws, queue.run_id, case, reveal=reviewer.role == "data_steward")
    return {"detail": asdict(detail)}


def _record(site: PortalSite, queue: Queue, case: Case, name: str, given: str) -> bool:
    """Write the answer to the state; False when it is not an answer this case takes."""
    ws, run_id = site.ws, queue.run_id
    if given == "not_sure":
        record_not_sure(ws, case.case_id, reviewer=name, run_id=run_id)
        return True
    if case.kind == "pair":
        if given not in PAIR_ANSWERS:
            return False
        record_pair_decision(
            ws, case.record_key_l, case.record_key_r, given,
            entity_type=case.entity_type, reviewer=name, run_id=run_id,
        )  # fmt: skip
        return True
    if given == "not_in_library":
        record_address_decision(ws, case.address_text, "not_in_library", reviewer=name, run_id=run_id)
        return True
    kind, _, building = given.partition(":")
    if kind != "building" or building not in {c["building_code"] for c in case.candidates}:
        return False
    record_address_decision(
        ws, case.address_text, "standard", building_code=building, reviewer=name, run_id=run_id
    )
    return True


__all__ = ["review_routes"]
