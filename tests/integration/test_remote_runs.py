"""Runs that travel: ``--out``, compare, report and check on ``s3://`` URLs.

Against a local S3-compatible server the tests start (moto in server mode, tests/support/
s3server.py), never the network: a real run is uploaded, compared, reported on and checked
from the bucket; an upload killed half-way leaves nothing that reads complete; a bad URL,
a missing bucket and missing credentials are exit 2 with a hint, and no credential value is
ever printed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from s3server import SECRET, moto_server, s3_env, s3fs_client

from reprocheck.cli import cli

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture
def s3(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The local server's filesystem with a fresh bucket ``runs``; the env points at it."""
    for name, value in s3_env(endpoint).items():
        monkeypatch.setenv(name, value)
    fs = s3fs_client(endpoint)
    if fs.exists("runs"):
        fs.rm("runs", recursive=True)
    fs.mkdir("runs")
    return fs


def _cli(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def _exit_2_with_hint(result: Result) -> None:
    output = result.stdout + result.stderr
    assert result.exit_code == 2, output
    assert result.stderr.startswith("Error: "), output
    assert "\nHint: " in result.stderr, output
    assert "Traceback" not in output
    assert SECRET not in output


@pytest.fixture(scope="module")
def uploaded(endpoint: str) -> str:
    """A real ``reprocheck run mlp`` written straight to the bucket (once per module)."""
    env = {**os.environ, **s3_env(endpoint)}
    fs = s3fs_client(endpoint)
    fs.mkdir("shared")
    url = "s3://shared/runs/base"
    done = subprocess.run(
        [sys.executable, "-m", "reprocheck", "run", "mlp", "--steps", "2", "--out", url],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith(f"wrote {url}")
    return url


def test_run_lands_with_its_manifest(uploaded: str, endpoint: str) -> None:
    """`run --out s3://...` uploads the whole run: manifest, record and tensors."""
    fs = s3fs_client(endpoint)
    names = sorted(p.removeprefix("shared/runs/base/") for p in fs.find("shared/runs/base"))
    assert names == ["run.json", "scenarios/mlp/record.json", "scenarios/mlp/tensors.safetensors"]


def test_compare_two_urls(uploaded: str, s3: Any) -> None:
    """compare reads both runs from the bucket, names them by URL and says identical."""
    result = _cli("compare", uploaded, uploaded, "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert '"verdict": "identical"' in result.stdout
    assert f'"baseline": "{uploaded}"' in result.stdout


def test_report_from_urls(uploaded: str, s3: Any, tmp_path: Path) -> None:
    """report writes its HTML page from runs in the bucket."""
    page = tmp_path / "report.html"
    result = _cli("report", uploaded, uploaded, "-o", page)
    assert result.exit_code == 0, result.stderr
    assert "<html" in page.read_text(encoding="utf-8").lower()


def test_check_a_remote_baseline_into_a_remote_out(uploaded: str, s3: Any) -> None:
    """check replays the bucket's baseline here, uploads its run and compares (identical)."""
    result = _cli("check", "--baseline", uploaded, "--out", "s3://runs/here")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "identical" in result.stdout
    assert s3.exists("runs/here/run.json")
    again = _cli("compare", uploaded, "s3://runs/here")
    assert again.exit_code == 0, again.stderr


def test_a_run_without_its_manifest_reads_incomplete(uploaded: str, s3: Any) -> None:
    """Objects under a prefix without run.json are an incomplete run: exit 2, never a verdict."""
    s3.put_file(__file__, "runs/half/scenarios/mlp/record.json")
    _exit_2_with_hint(result := _cli("compare", uploaded, "s3://runs/half"))
    assert "not a complete run" in result.stderr


def test_out_refuses_a_used_prefix_without_force(s3: Any) -> None:
    """--out on a prefix that holds objects is refused before any replay (as for a directory)."""
    s3.put_file(__file__, "runs/used/leftover")
    _exit_2_with_hint(result := _cli("run", "mlp", "--out", "s3://runs/used"))
    assert "--force" in result.stderr


@pytest.mark.parametrize(
    ("url", "said"),
    [
        pytest.param("s3://no-such-bucket/runs/a", "does not exist", id="missing-bucket"),
        pytest.param("s3://runs/nothing-here", "does not exist", id="nothing-at-url"),
        pytest.param("s3://runs", "no location inside a bucket", id="bucket-only"),
        pytest.param("nosuchstore://bucket/run", "cannot open", id="unknown-protocol"),
        pytest.param(
            f"s3://testing:{SECRET}@runs/a", "credentials in the URL", id="credentials-in-url"
        ),
    ],
)
def test_bad_urls_exit_2_with_a_hint(uploaded: str, s3: Any, url: str, said: str) -> None:
    """compare and run --out: a bad URL or bucket is exit 2, Error: and Hint:, no secret."""
    _exit_2_with_hint(result := _cli("compare", uploaded, url))
    assert said in result.stderr
    if "nothing-here" not in url:  # an unused prefix is a fine --out
        _exit_2_with_hint(_cli("run", "mlp", "--out", url))


def test_no_credentials_exit_2_without_the_secret(
    uploaded: str, endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without credentials: exit 2 naming the problem, a hint where to set them."""
    for name, value in s3_env(endpoint, credentials=False).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    monkeypatch.setenv("AWS_SESSION_TOKEN_FOR_TEST", SECRET)  # must never be shown either
    for args in (("compare", uploaded, uploaded), ("run", "mlp", "--out", "s3://runs/x")):
        result = _cli(*args)
        _exit_2_with_hint(result)
        assert "credential" in result.stderr.lower()


def test_without_the_extra_a_url_is_exit_2_with_the_pip_hint(tmp_path: Path) -> None:
    """With fsspec not importable, the core still imports and a URL says what to install."""
    block = "import sys; sys.modules['fsspec'] = None; sys.modules['fsspec.core'] = None\n"
    script = tmp_path / "no_fsspec.py"
    script.write_text(
        block + "from reprocheck.cli import main\nsys.exit(main())\n", encoding="utf-8"
    )
    done = subprocess.run(
        [sys.executable, str(script), "compare", "s3://b/runs/a", "s3://b/runs/b"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert 'pip install "reprocheck[remote]"' in done.stderr
    assert "Traceback" not in done.stderr


_BIG = textwrap.dedent(
    """
    import torch, reprocheck

    def build(ctx):
        # ~200 MB of parameters: the upload of its tensors takes long enough to be killed.
        model = torch.nn.Linear(7168, 7168)
        x = torch.randn(ctx.steps, 2, 7168, generator=ctx.generator)
        return reprocheck.Scenario(
            model=model,
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
            batch=lambda step: x[step],
            loss=lambda model, batch: model(batch).square().mean(),
        )
    """
)


def test_sigkill_during_upload_leaves_nothing_complete(endpoint: str, tmp_path: Path) -> None:
    """Killed once its first object is up, the run has no manifest and reads incomplete.

    The scenario's record is uploaded before its ~200 MB tensor file and the manifest
    last; the test kills the process (SIGKILL) as soon as the record is visible in the
    bucket, then checks that the manifest is absent and that compare refuses the run.
    """
    (tmp_path / "bigmodel.py").write_text(_BIG, encoding="utf-8")
    env = {**os.environ, **s3_env(endpoint)}
    fs = s3fs_client(endpoint)
    fs.mkdir("killed")
    url = "s3://killed/runs/big"
    argv = [sys.executable, "-m", "reprocheck", "run", "bigmodel:build", "--steps", "1"]
    proc = subprocess.Popen(
        [*argv, "--trace-steps", "0", "--out", url],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    record = "killed/runs/big/scenarios/bigmodel_build/record.json"
    try:
        deadline = time.monotonic() + 300
        while not fs.exists(record):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the upload never started"
            time.sleep(0.02)
            fs.invalidate_cache()
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
    fs.invalidate_cache()
    assert fs.exists(record)
    assert not fs.exists("killed/runs/big/run.json")
    done = subprocess.run(
        [sys.executable, "-m", "reprocheck", "compare", url, url],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "not a complete run" in done.stderr
