"""The ``alerts:`` section of gridhub.yaml and the failure alert's delivery by e-mail (the webhook is tested
through a real failed DAG run in tests/test_dag_failures.py)."""

from __future__ import annotations

import email
import email.policy
import json
import logging
import socketserver
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from gridhub.alerts import failure_payload, send_alerts
from gridhub.config import ConfigError, load_config
from gridhub.taskfail import TaskFailed


def _with_alerts(workspace: Path, section: str) -> Path:
    cfg = workspace / "gridhub.yaml"
    cfg.write_text(cfg.read_text(encoding="utf-8") + "alerts:\n" + section, encoding="utf-8")
    return cfg


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("  webhook: ftp://example.org/x\n", "alerts.webhook: not an http(s) URL"),
        ("  email: [not-an-address]\n", "alerts.email: not e-mail addresses: ['not-an-address']"),
        ("  timeout_seconds: 5\n", "alerts: alerts needs a webhook, an email list, or both"),
        (
            "  webhook: https://example.org/x\n  channel: x\n",
            "alerts.channel: Extra inputs are not permitted",
        ),
    ],
)
def test_a_bad_alerts_section_is_refused_naming_the_key(workspace_copy, section, message):
    with pytest.raises(ConfigError, match="invalid configuration") as e:
        load_config(_with_alerts(workspace_copy, section))
    assert message in str(e.value)


def test_an_alerts_section_loads(workspace_copy):
    cfg = load_config(
        _with_alerts(
            workspace_copy,
            "  webhook: https://chat.example.gov.cn/hooks/1\n  email: [a@example.gov.cn]\n  smtp: {port: 2525}\n",
        )
    )
    assert cfg.alerts is not None and cfg.alerts.webhook == "https://chat.example.gov.cn/hooks/1"
    assert cfg.alerts.email == ["a@example.gov.cn"] and cfg.alerts.smtp.port == 2525
    assert cfg.alerts.smtp.host == "localhost"


class _Smtp(socketserver.StreamRequestHandler):
    """Just enough of SMTP (RFC 5321) to take one mail: what a local relay does."""

    mails: list[bytes] = []

    def handle(self):
        self.wfile.write(b"220 test ESMTP\r\n")
        data: list[bytes] | None = None
        while line := self.rfile.readline():
            if data is not None:
                if line == b".\r\n":
                    type(self).mails.append(b"".join(data))
                    data = None
                    self.wfile.write(b"250 queued\r\n")
                else:
                    data.append(line[1:] if line.startswith(b"..") else line)
                continue
            verb = line[:4].upper()
            if verb == b"DATA":
                data = []
                self.wfile.write(b"354 go on\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


@pytest.fixture
def smtp_server():
    _Smtp.mails = []
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Smtp)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], _Smtp.mails
    server.shutdown()
    server.server_close()


def _context(error: BaseException) -> dict:
    ti = SimpleNamespace(
        dag_id="gridhub_ingest_gongan_population", task_id="ingest", run_id="r1", try_number=1
    )
    return {"ti": ti, "run_id": "r1", "exception": error}


def test_the_alert_is_mailed_naming_feed_and_file(workspace_copy, smtp_server):
    port, mails = smtp_server
    cfg = load_config(
        _with_alerts(
            workspace_copy,
            f"  email: [data-team@example.gov.cn]\n  smtp: {{host: 127.0.0.1, port: {port}, sender: gh@example.gov.cn}}\n",
        )
    )
    error = TaskFailed(
        "数据源 gongan_population，文件 人口（６月）.csv：编码错误",
        feed="gongan_population",
        files=["人口（６月）.csv"],
    )
    assert send_alerts(cfg.alerts, failure_payload(_context(error), workspace="青石区")) == ["email"]
    (raw,) = mails
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["To"] == "data-team@example.gov.cn" and msg["From"] == "gh@example.gov.cn"
    assert "gongan_population" in msg["Subject"] and "人口（６月）.csv" in msg["Subject"]
    body = msg.get_content().replace("\r\n", "\n")
    assert body.startswith("数据源 gongan_population，文件 人口（６月）.csv：编码错误\n")
    assert json.loads(body.split("\n\n", 1)[1])["files"] == ["人口（６月）.csv"]


def test_an_alert_that_cannot_be_delivered_is_logged_not_raised(workspace_copy, caplog):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = load_config(
        _with_alerts(workspace_copy, f"  webhook: http://127.0.0.1:{port}/hook\n  timeout_seconds: 2\n")
    )
    caplog.set_level(logging.INFO, logger="gridhub.task")
    payload = failure_payload(_context(RuntimeError("boom")))
    assert payload["feed"] == "gongan_population" and payload["files"] == []  # the feed from the DAG id
    assert send_alerts(cfg.alerts, payload) == []
    assert any("could not be posted" in r.getMessage() for r in caplog.records)
