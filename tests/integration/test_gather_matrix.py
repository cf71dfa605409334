"""The gather step of many machines: ``python -m reprocheck.matrix DIR_OR_URL --baseline NAME``.

Runs are laid out as the example workflow's last job finds them after
``actions/download-artifact`` (``gathered/<artifact name>/run.json``), or under a bucket
prefix on the local S3 server. Two machines are simulated honestly where this host can:
a real run at the native CPU dispatch level and a real run with
``ATEN_CPU_CAPABILITY=default`` (another ISA level, as on an older CPU). Hardware this host
cannot be (another CPU model, a GPU and its driver) is simulated by
``simulated_machines.as_if_on``, which edits only the fingerprint of a real run; the tests
that use it say so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from real_runs import RealRuns
from s3server import moto_server, s3_env, s3fs_client
from simulated_machines import as_if_on

from reprocheck.artifacts.remote import publish_run

pytestmark = pytest.mark.integration

BASE, OTHER = "x86-torch-2.13.0", "x86-isa-default-torch-2.13.0"


def _run(out: Path, capability: str | None) -> None:
    env = dict(os.environ)
    env.pop("ATEN_CPU_CAPABILITY", None)
    if capability is not None:
        env["ATEN_CPU_CAPABILITY"] = capability
    argv = [sys.executable, "-m", "reprocheck", "run", "mlp", "--steps", "2", "--out", str(out)]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def gathered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two real runs of two "machines", as download-artifact lays them out."""
    root = tmp_path_factory.mktemp("gathered")
    _run(root / BASE, None)
    _run(root / OTHER, "default")
    return root


def _matrix(
    *args: str | Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reprocheck.matrix", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )


def _line(text: str, start: str) -> str:
    return next(line for line in text.splitlines() if line.strip().startswith(start))


def test_gather_names_the_isa_change(gathered: Path, tmp_path: Path) -> None:
    """Two real machines' runs: one table, the verdict measured, the dispatch level named."""
    drifts = not RealRuns.same_bits(gathered / BASE, gathered / OTHER, "mlp")
    done = _matrix(gathered, "--baseline", BASE, "--json", tmp_path / "m.json")
    assert done.returncode == (1 if drifts else 0), done.stdout + done.stderr
    header = done.stdout.splitlines()[0].split()
    assert header == ["scenario", BASE, OTHER]
    hardware = _line(done.stdout.split("hardware against")[1], OTHER)
    assert "CPU capability" in hardware
    assert "DEFAULT" in hardware
    if drifts:  # the suspect in the verdict line is the hardware dispatch level
        assert "CPU capability" in _line(done.stdout, f"{OTHER} ")
    data = json.loads((tmp_path / "m.json").read_text(encoding="utf-8"))
    assert [e["env"] for e in data["environments"]] == [BASE, OTHER]


def test_gather_names_cpu_model_gpu_and_driver(gathered: Path, tmp_path: Path) -> None:
    """A CPU model, GPU and driver this host has not: simulated by editing a real run.

    ``as_if_on`` rewrites only the fingerprint (cpu.model, cpu.flags, cuda.devices,
    cuda.driver_version) of a copy of the real baseline run: no machine with another CPU
    or a GPU is at hand here. The numbers are the baseline's, so the verdict is identical
    and the hardware lines are what names the other machine.
    """
    root = tmp_path / "gathered"
    shutil.copytree(gathered / BASE, root / BASE)
    as_if_on(
        gathered / BASE,
        root / "h100-box",
        cpu_model="Intel(R) Xeon(R) Platinum 8480+",
        cpu_flags=["avx", "avx2", "avx512f", "amx_tile", "fma"],
        gpus=[{"name": "NVIDIA H100 80GB HBM3", "capability": [9, 0], "total_memory": 1}],
        driver="580.65.06",
    )
    done = _matrix(root, "--baseline", BASE, "--json", tmp_path / "m.json")
    assert done.returncode == 0, done.stdout + done.stderr
    hardware = _line(done.stdout.split("hardware against")[1], "h100-box")
    for named in ("CPU model", "Platinum 8480+", "GPU (none) → NVIDIA H100", "580.65.06", "ISA"):
        assert named in hardware, hardware
    env = json.loads((tmp_path / "m.json").read_text(encoding="utf-8"))["environments"][1]
    paths = [c["path"] for c in env["comparison"]["environment"]]
    # Ranked among the suspects, before the packages and the rest.
    for path in ("cpu.flags", "cuda.driver_version", "cuda.devices", "cpu.model"):
        assert path in paths[:6], paths


def test_an_incomplete_upload_is_a_column_not_run(gathered: Path, tmp_path: Path) -> None:
    """A run directory without run.json (an upload cut short) is shown as not run."""
    root = tmp_path / "gathered"
    shutil.copytree(gathered / BASE, root / BASE)
    shutil.copytree(gathered / OTHER, root / "arm-torch-2.13.0")
    (root / "arm-torch-2.13.0" / "run.json").unlink()
    done = _matrix(root, "--baseline", BASE)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "incomplete run" in _line(done.stdout, "arm-torch-2.13.0 ")


@pytest.mark.parametrize(
    ("args", "said"),
    [
        pytest.param(["--baseline", "nope"], "is not one of the gathered runs", id="baseline"),
        pytest.param(["missing-dir", "--baseline", BASE], "not a directory", id="no-dir"),
    ],
)
def test_bad_input_exits_2(gathered: Path, args: list[str], said: str) -> None:
    """An unknown baseline or a missing directory: exit 2, Error: and Hint:."""
    argv = args if args[0] != "--baseline" else [str(gathered), *args]
    done = _matrix(*argv)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("Error: ")
    assert said in done.stderr
    assert "Hint: " in done.stderr


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_server() as url:
        yield url


def test_gather_from_a_bucket(
    gathered: Path, endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same matrix from runs uploaded under one bucket prefix."""
    env = s3_env(endpoint)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    s3fs_client(endpoint).mkdir("ci-runs")
    for name in (BASE, OTHER):
        publish_run(gathered / name, f"s3://ci-runs/run-42/{name}")
    local = _matrix(gathered, "--baseline", BASE)
    remote = _matrix("s3://ci-runs/run-42", "--baseline", BASE, env=env)
    assert remote.returncode == local.returncode, remote.stderr
    assert remote.stdout == local.stdout
