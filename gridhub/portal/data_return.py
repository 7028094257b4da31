"""Data return in the portal (数据回流): a signed-in department downloads its own records, as the current
snapshot read them, with the standard address code, grid code and entity id attached, and the list of its
values that disagree with the published golden records (:mod:`gridhub.datareturn`).

- ``GET /data-return`` — the department's feeds, each with its downloads.
- ``GET /data-return/download?feed=…&format=csv|xlsx&part=records|disagreements`` — CSV (UTF-8 with BOM,
  streamed; one file per part) or xlsx (write-only workbook, both parts on their own sheets; ``part`` is
  ignored).

Not signed in: the sign-in page (303 to ``/``). A feed that is not the department's, or does not exist: the
same 403. Every download is audited (``event: data_return``), refused ones too.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response, StreamingResponse
from starlette.background import BackgroundTask

from gridhub.datareturn import DataReturnError, feed_return, return_feeds
from gridhub.datareturn_files import csv_chunks, labelled_disagreements, labelled_records, write_xlsx
from gridhub.portal.audit import append_audit
from gridhub.portal.site import PortalSite, base_path
from warehouse.read import NoSnapshot, current_manifest

NOT_YOURS = "没有这个数据源，或本部门无权下载它。 / No such feed, or your department may not download it."
BAD_REQUEST = "下载请求无效。 / Invalid download request."
FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
PARTS = ("records", "disagreements")
TMP_DIR = "portal_tmp"


def data_return_routes(site: PortalSite) -> APIRouter:
    """The data-return page and its downloads (see the module docstring)."""
    router = APIRouter()

    @router.get("/data-return")
    def page(request: Request) -> Response:
        session, dept = site.signed_in(request)
        if dept is None:
            return RedirectResponse(base_path(request) + "/", status_code=303)
        try:
            manifest = current_manifest(site.ws.warehouse)
        except NoSnapshot:  # CURRENT names a snapshot whose manifest is gone
            manifest = None
        return site.render(
            request,
            "data_return.html",
            session,
            feeds=return_feeds(site.config(), dept),
            snapshot=manifest,
        )

    @router.get("/data-return/download")
    def download(
        request: Request, feed: str = "", fmt: str = Query("csv", alias="format"), part: str = "records"
    ) -> Response:
        session, dept = site.signed_in(request)
        if dept is None:
            return RedirectResponse(base_path(request) + "/", status_code=303)
        client = site.client(request)

        def refuse(status: int, message: str, reason: str) -> Response:
            append_audit(
                site.ws, "data_return", department=dept, feed=feed, format=fmt, part=part,
                result="refused", reason=reason, client_ip=client,
            )  # fmt: skip
            return site.render(request, "message.html", session, status=status, message=message)

        mine = {f.name: f for f in return_feeds(site.config(), dept)}
        if feed not in mine:
            return refuse(403, NOT_YOURS, "feed_not_allowed")
        if fmt not in FORMATS or part not in PARTS:
            return refuse(400, BAD_REQUEST, "bad_request")
        try:
            result = feed_return(site.ws, [feed])
        except (DataReturnError, NoSnapshot) as e:
            return refuse(409, str(e), "not_available")
        records = labelled_records(result.records, [mine[feed]])
        disagreements = labelled_disagreements(result.disagreements, [mine[feed]])
        append_audit(
            site.ws, "data_return", department=dept, feed=feed, format=fmt, part=part, result="ok",
            snapshot=result.run_id, records=len(records), disagreements=len(disagreements), client_ip=client,
        )  # fmt: skip
        stem = f"{feed}-{result.run_id}"
        if fmt == "csv":
            frame = records if part == "records" else disagreements
            return StreamingResponse(
                csv_chunks(frame), media_type=FORMATS["csv"], headers=_attachment(f"{stem}-{part}.csv")
            )
        tmp = site.ws.state / TMP_DIR
        tmp.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="data-return-", suffix=".xlsx", dir=tmp)
        os.close(fd)
        try:
            write_xlsx(Path(name), records, disagreements)
        except BaseException:
            os.unlink(name)
            raise
        return FileResponse(
            name,
            media_type=FORMATS["xlsx"],
            headers=_attachment(f"{stem}.xlsx"),
            background=BackgroundTask(os.unlink, name),
        )

    return router


def _attachment(file_name: str) -> dict[str, str]:
    """A download header; feed names and run ids are ASCII (letters, digits, ``_``, ``-``)."""
    return {"Content-Disposition": f'attachment; filename="{file_name}"'}


__all__ = ["data_return_routes"]
