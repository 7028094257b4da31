"""Failure alerts (告警): when a gridhub task fails for good, say which feed and which file, by webhook or e-mail.

:func:`on_task_failure` is every gridhub task's ``on_failure_callback`` (``gridhub.assets.default_args``);
Airflow calls it once a task has failed and will not be retried. It reads the workspace's ``alerts:`` section
(:class:`gridhub.config.Alerts`) and, if there is one, POSTs :func:`failure_payload` as JSON to the webhook
and mails it to the addresses. An alert that cannot be delivered is logged and never fails anything more.

DAG files import this module while Airflow parses them: it imports nothing heavy at module level.
"""

from __future__ import annotations

import json
import logging
from typing import Any

log = logging.getLogger("gridhub.task")

_MAX_ERROR = 4000


def failure_payload(context: dict[str, Any], workspace: str = "") -> dict[str, Any]:
    """What an alert says: the DAG, task and run, the feed and the files that failed, and the error."""
    ti = context.get("ti") or context.get("task_instance")
    dag_id = str(getattr(ti, "dag_id", "") or "")
    error = context.get("exception")
    feed = str(getattr(error, "feed", "") or "")
    if not feed and dag_id.startswith("gridhub_ingest_"):
        feed = dag_id.removeprefix("gridhub_ingest_")
    files = [str(f) for f in getattr(error, "files", None) or []]
    what = f"数据源 {feed} / feed {feed}" if feed else dag_id
    where = f": {', '.join(files)}" if files else ""
    return {
        "event": "gridhub_task_failed",
        "workspace": workspace,
        "summary": f"gridhub {what} 失败 / failed{where}",
        "dag_id": dag_id,
        "task_id": str(getattr(ti, "task_id", "") or ""),
        "run_id": str(context.get("run_id") or getattr(ti, "run_id", "") or ""),
        "try_number": getattr(ti, "try_number", None),
        "feed": feed or None,
        "files": files,
        "error": str(error or "")[:_MAX_ERROR],
    }


def post_webhook(url: str, payload: dict[str, Any], timeout: float = 10.0) -> int:
    """POST ``payload`` as UTF-8 JSON to ``url``; the HTTP status (raises ``OSError`` if it cannot be sent)."""
    import urllib.request

    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    req = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json; charset=utf-8"}
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (the URL is validated config)
        return int(resp.status)


def send_mail(alerts: Any, payload: dict[str, Any]) -> None:
    """Mail ``payload`` (summary as subject, the error and the details as body) to ``alerts.email``."""
    import smtplib
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["Subject"] = payload["summary"]
    msg["From"] = alerts.smtp.sender
    msg["To"] = ", ".join(alerts.email)
    details = {k: v for k, v in payload.items() if k not in ("summary", "error")}
    msg.set_content(
        payload["error"] + "\n\n" + json.dumps(details, ensure_ascii=False, indent=1), charset="utf-8"
    )
    with smtplib.SMTP(alerts.smtp.host, alerts.smtp.port, timeout=alerts.timeout_seconds) as smtp:
        smtp.send_message(msg)


def send_alerts(alerts: Any, payload: dict[str, Any]) -> list[str]:
    """Deliver ``payload`` to every configured channel; what was delivered (``webhook``, ``email``)."""
    sent = []
    if alerts.webhook:
        try:
            status = post_webhook(alerts.webhook, payload, timeout=alerts.timeout_seconds)
            sent.append("webhook")
            log.info("failure alert posted to the webhook (HTTP %s)", status)
        except (OSError, ValueError) as e:
            log.warning("the failure alert could not be posted to %s: %s", alerts.webhook, e)
    if alerts.email:
        try:
            send_mail(alerts, payload)
            sent.append("email")
            log.info("failure alert mailed to %s", ", ".join(alerts.email))
        except (OSError, ValueError) as e:
            log.warning("the failure alert could not be mailed: %s", e)
    return sent


def on_task_failure(context: dict[str, Any]) -> None:
    """Airflow ``on_failure_callback``: alert by the workspace's ``alerts:`` section, if it has one."""
    from gridhub.workspace import Workspace
    from warehouse.errors import UserError

    try:
        ws = Workspace.from_env()
        alerts = ws.config.alerts
    except UserError as e:  # no workspace or a broken config: the task's own error already says so
        log.warning("no failure alert sent: %s", e)
        return
    if alerts is None:
        return
    send_alerts(alerts, failure_payload(context, workspace=ws.config.name))


__all__ = ["failure_payload", "on_task_failure", "post_webhook", "send_alerts", "send_mail"]
