"""The environment allow-list: only named variables, never credentials, never long blobs."""

from __future__ import annotations

import pytest

from reprocheck.env.envvars import ALLOWED_NAMES, MAX_VALUE_LENGTH, capture_env


def test_allowed_variables_are_captured_sorted() -> None:
    """Allow-listed variables that are set appear with their values, sorted by name."""
    env = {"OMP_NUM_THREADS": "1", "CUBLAS_WORKSPACE_CONFIG": ":4096:8", "HOME": "/root"}
    assert list(capture_env(env).items()) == [
        ("CUBLAS_WORKSPACE_CONFIG", ":4096:8"),
        ("OMP_NUM_THREADS", "1"),
    ]


@pytest.mark.parametrize(
    "name",
    [
        "AWS_SECRET_ACCESS_KEY",
        "HF_TOKEN",
        "GITHUB_TOKEN",
        "MY_PASSWORD",
        "PATH",
        "HOME",
        "OMP_NUM_THREADS_EXTRA",
        "TORCH_HOME",
    ],
)
def test_unlisted_variables_are_never_captured(name: str) -> None:
    """Anything not on the list, secrets included, is left out."""
    assert capture_env({name: "value"}) == {}


def test_nccl_prefix_is_captured() -> None:
    """NCCL tuning variables (algorithm, protocol) change reduction order: captured."""
    assert capture_env({"NCCL_ALGO": "Ring", "NCCL_PROTO": "LL"}) == {
        "NCCL_ALGO": "Ring",
        "NCCL_PROTO": "LL",
    }


@pytest.mark.parametrize(
    "name", ["NCCL_AUTH_TOKEN", "NCCL_SECRET", "NCCL_API_KEY", "NCCL_PASSWORD", "NCCL_CREDS"]
)
def test_nccl_names_that_look_like_credentials_are_refused(name: str) -> None:
    """The NCCL_ prefix never lets a token, key, secret, password or credential through."""
    assert capture_env({name: "hunter2"}) == {}


def test_overlong_values_are_dropped() -> None:
    """A value over the length limit is dropped, a value at the limit is kept."""
    env = {"OMP_NUM_THREADS": "1" * MAX_VALUE_LENGTH, "MKL_CBWR": "A" * (MAX_VALUE_LENGTH + 1)}
    assert capture_env(env) == {"OMP_NUM_THREADS": "1" * MAX_VALUE_LENGTH}


def test_allow_list_has_no_credential_like_names() -> None:
    """No exact name on the list looks like a credential (a guard for future edits)."""
    for name in ALLOWED_NAMES:
        assert not any(w in name for w in ("TOKEN", "KEY", "SECRET", "PASS", "AUTH", "CRED")), name
