"""artifacts/remote.py without a server: what is a URL, and what is never shown."""

from __future__ import annotations

import pytest

from reprocheck.artifacts.remote import _scrub, is_url, redact


@pytest.mark.parametrize(
    ("location", "url"),
    [
        ("s3://bucket/runs/a", True),
        ("gs://bucket/runs/a", True),
        ("file:///tmp/run", True),
        ("runs/a", False),
        ("/abs/runs/a", False),
        ("C:\\runs\\a", False),
        ("s3:/bucket/a", False),
    ],
)
def test_is_url(location: str, url: bool) -> None:
    assert is_url(location) is url


def test_redact_drops_the_user_part() -> None:
    assert redact("s3://key:secret@bucket/runs/a") == "s3://bucket/runs/a"
    assert redact("s3://bucket/runs/a@2") == "s3://bucket/runs/a@2"


def test_scrub_blanks_credential_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "sekrit-value-42")
    monkeypatch.setenv("OMP_NUM_THREADS", "sekrit")  # not a credential name: kept
    assert _scrub("denied for sekrit-value-42") == "denied for ***"
