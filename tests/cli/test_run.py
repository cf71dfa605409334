"""`reprocheck run`: summary lines, the run directory, and every bad input as exit 2."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from reprocheck.artifacts.runs import load_run
from reprocheck.cli import cli

BAD = """
import torch, reprocheck

def _scenario(ctx, batch=None, loss=None):
    model = torch.nn.Linear(4, 1)
    return reprocheck.Scenario(
        model=model,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        batch=batch or (lambda step: torch.ones(2, 4)),
        loss=loss or (lambda model, b: model(b).mean()),
    )

def wrong_type(ctx):
    return [1, 2]

def build_raises(ctx):
    raise OSError("dataset not found")

def batch_raises(ctx):
    def batch(step):
        raise IndexError("index 9 is out of bounds\\nfor dimension 0")
    return _scenario(ctx, batch=batch)

def loss_raises(ctx):
    def loss(model, b):
        raise ValueError("labels must be long")
    return _scenario(ctx, loss=loss)
"""


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A working directory with a module of broken scenarios."""
    (tmp_path / "badscen.py").write_text(BAD, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield tmp_path
    sys.modules.pop("badscen", None)


def test_run_writes_a_run_and_summarises_each_scenario(tmp_path: Path) -> None:
    """Exit 0, one summary line per scenario and the output path on stdout, no progress."""
    out = tmp_path / "run"
    code, stdout, stderr = _invoke("run", "mlp", "rnn", "--steps", "2", "--out", str(out))
    assert code == 0, stderr
    lines = stdout.splitlines()
    assert lines[0].startswith("mlp: 2 steps on cpu, loss ")
    assert lines[1].startswith("rnn: 2 steps on cpu, loss ")
    assert lines[2] == f"wrote {out}"
    assert "step 1/2" not in stderr
    assert load_run(out).scenario_names == ["mlp", "rnn"]


def test_quiet_after_run_works_and_creates_missing_parents(tmp_path: Path) -> None:
    """`reprocheck run -q --out x mlp`: -q after the command, --out's parents created."""
    out = tmp_path / "runs" / "nested" / "x"
    code, stdout, stderr = _invoke("run", "-q", "--out", str(out), "mlp", "--steps", "1")
    assert code == 0, stderr
    assert stderr == ""
    assert stdout.splitlines()[-1] == f"wrote {out}"
    assert load_run(out).scenario_names == ["mlp"]


def test_options_reach_the_record(tmp_path: Path) -> None:
    """--steps, --seed and --trace-steps end up in the recorded config."""
    out = tmp_path / "run"
    code, _, stderr = _invoke(
        "run", "mlp", "--steps", "3", "--seed", "9", "--trace-steps", "0", "--out", str(out)
    )
    assert code == 0, stderr
    record = load_run(out).records["mlp"]
    assert (record.config.steps, record.config.seed, record.config.trace_steps) == (3, 9, 0)
    assert record.trace == ()


def test_existing_run_is_not_overwritten(tmp_path: Path) -> None:
    """A non-empty --out is refused with exit 2 unless --force is given."""
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("mine", encoding="utf-8")
    code, stdout, stderr = _invoke("run", "mlp", "--steps", "1", "--out", str(out))
    assert code == 2
    assert stdout == ""
    assert stderr.startswith(f"Error: {out} already exists and is not empty\nHint: ")
    assert (out / "keep.txt").exists()


def test_force_replaces_an_existing_run(tmp_path: Path) -> None:
    """--force replaces what was in --out with a complete run."""
    out = tmp_path / "run"
    out.mkdir()
    (out / "old.txt").write_text("old", encoding="utf-8")
    code, _, stderr = _invoke("run", "mlp", "--steps", "1", "--force", "--out", str(out))
    assert code == 0, stderr
    assert not (out / "old.txt").exists()
    assert load_run(out).scenario_names == ["mlp"]


def test_unknown_scenario_lists_builtins(tmp_path: Path) -> None:
    """An unknown name exits 2 with the built-ins in the hint and writes nothing."""
    code, stdout, stderr = _invoke("run", "mpl", "--out", str(tmp_path / "run"))
    assert code == 2
    assert stdout == ""
    assert stderr.splitlines() == [
        "Error: unknown scenario 'mpl'",
        "Hint: Built-in scenarios: mlp, cnn, transformer, rnn. Name your own as "
        "module:function, or declare it in the entry-point group 'reprocheck.scenarios'.",
    ]
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "no_such_module:build",
            "Error: scenario 'no_such_module:build': cannot import module 'no_such_module' "
            "(ModuleNotFoundError: No module named 'no_such_module')",
        ),
        (
            "badscen:missing",
            "Error: scenario 'badscen:missing': module 'badscen' has no attribute 'missing'",
        ),
        (
            "badscen:wrong_type",
            "Error: scenario 'badscen:wrong_type': its build function returned list, "
            "expected reprocheck.Scenario",
        ),
        (
            "badscen:build_raises",
            "Error: scenario 'badscen:build_raises': building it raised OSError: dataset not found",
        ),
        (
            "badscen:batch_raises",
            "Error: scenario 'badscen:batch_raises': its batch function raised at step 0: "
            "IndexError: index 9 is out of bounds",
        ),
        (
            "badscen:loss_raises",
            "Error: scenario 'badscen:loss_raises': its loss function raised at step 0: "
            "ValueError: labels must be long",
        ),
    ],
)
def test_bad_scenario_is_one_line_error(user_dir: Path, name: str, message: str) -> None:
    """Each broken scenario exits 2 with a one-line Error naming it and the cause, a hint,
    no traceback, and no run directory."""
    out = user_dir / "run"
    code, stdout, stderr = _invoke("run", name, "--steps", "2", "--out", str(out))
    assert code == 2
    assert stdout == ""
    lines = stderr.splitlines()
    assert lines[0] == message
    assert lines[1].startswith("Hint: ")
    assert len(lines) == 2
    assert "Traceback" not in stderr
    assert not out.exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error where no GPU is")
def test_cuda_without_gpu_exits_2_with_hint(tmp_path: Path) -> None:
    """--device cuda where torch sees no GPU exits 2 with a hint."""
    code, _, stderr = _invoke("run", "mlp", "--device", "cuda", "--out", str(tmp_path / "r"))
    assert code == 2
    assert stderr.splitlines() == [
        "Error: --device cuda was asked for, but torch sees no CUDA GPU here",
        "Hint: Run on a machine with a GPU and a CUDA build of torch, or use --device cpu.",
    ]


@pytest.mark.parametrize(
    "args",
    [
        ["--steps", "0"],
        ["--steps", "-3"],
        ["--seed", "-1"],
        ["--trace-steps", "-1"],
        ["--device", "tpu"],
    ],
)
def test_bad_option_values_exit_2(tmp_path: Path, args: list[str]) -> None:
    """Out-of-range numbers and unknown devices are usage errors (exit 2), nothing written."""
    code, stdout, stderr = _invoke("run", "mlp", *args, "--out", str(tmp_path / "run"))
    assert code == 2
    assert stdout == ""
    assert "Error:" in stderr
    assert not (tmp_path / "run").exists()


def test_a_core_error_about_a_field_names_its_flag(tmp_path: Path) -> None:
    """The core says ``seed``; the CLI says ``--seed``, in the error and in the hint."""
    huge = str(2**63)
    code, _, stderr = _invoke("run", "mlp", "--seed", huge, "--out", str(tmp_path / "r"))
    assert code == 2
    assert stderr.splitlines() == [
        f"Error: --seed {huge} is out of range",
        f"Hint: Use a --seed between 0 and {2**63 - 1}.",
    ]


def test_flag_text_names_flags_not_fields() -> None:
    """Fields become flags with their values unquoted; longer names and quoted ones stay."""
    from reprocheck.cli._options import flag_text

    assert flag_text("backend 'nccl' needs device 'cuda'") == "--backend nccl needs --device cuda"
    assert flag_text("trace_steps must be >= 0") == "--trace-steps must be >= 0"
    assert flag_text("scenario 'steps:build' is seeded") == "scenario 'steps:build' is seeded"


def test_out_is_required() -> None:
    """--out is required."""
    code, _, stderr = _invoke("run", "mlp")
    assert code == 2
    assert "Missing option '--out'" in stderr


@pytest.mark.cuda
def test_cuda_run_records_cuda(tmp_path: Path) -> None:
    """On a GPU, --device cuda runs the scenarios there and records the device."""
    out = tmp_path / "run"
    code, _, stderr = _invoke("run", "mlp", "--steps", "2", "--device", "cuda", "--out", str(out))
    assert code == 0, stderr
    assert load_run(out).records["mlp"].config.device == "cuda"
