"""The ``alerts:`` section of ``gridhub.yaml``: where a task that failed for good is reported."""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from gridhub.config_base import Strict as _Strict

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


class Smtp(_Strict):
    """The mail server failure alerts are sent through (plain SMTP, as a local relay takes it)."""

    host: str = Field("localhost", description="SMTP server host.")
    port: int = Field(25, ge=1, le=65535, description="SMTP server port.")
    sender: str = Field("gridhub@localhost", description="The From address of alert mails.")


class Alerts(_Strict):
    """Failure alerts (告警): where to say that a task failed for good, which feed and which file.

    Sent by every gridhub task's failure callback once Airflow will not retry it (see docs/airflow.md)."""

    webhook: str | None = Field(
        None,
        description="http(s) URL that gets a POST with a JSON body (summary, dag_id, task_id, run_id, feed, "
        "files, error) when a task fails; a chat bot's incoming webhook, say.",
    )
    email: list[str] = Field(default_factory=list, description="Addresses mailed the same alert.")
    smtp: Smtp = Field(default_factory=Smtp, description="The mail server for `email`.")
    timeout_seconds: float = Field(
        10, gt=0, description="How long one delivery may take before it is given up."
    )

    @field_validator("webhook")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        from urllib.parse import urlsplit

        if v is None:
            return v
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {v!r}")
        return v

    @field_validator("email")
    @classmethod
    def _addresses(cls, v: list[str]) -> list[str]:
        bad = [a for a in v if not _EMAIL.match(a)]
        if bad:
            raise ValueError(f"not e-mail addresses: {bad}")
        return v

    @model_validator(mode="after")
    def _somewhere(self) -> Alerts:
        if not self.webhook and not self.email:
            raise ValueError("alerts needs a webhook, an email list, or both (or leave the section out)")
        return self
