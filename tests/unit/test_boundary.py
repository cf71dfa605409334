"""The one error boundary (reprocheck._boundary) and the entry points that go through it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reprocheck import errors
from reprocheck._boundary import classify, error_lines, guarded, run_guarded
from reprocheck.errors import (
    EnvironmentFailure,
    ExitCode,
    InputError,
    InternalError,
    ReprocheckError,
    ScenarioError,
)

BUG_HINT = (
    "Hint: This is a bug in reprocheck; please report it with the output of `reprocheck -v ...`."
)


def _run(body: object, *, verbose: object = False) -> tuple[int, list[str]]:
    """``run_guarded(body)``: its exit code and the lines it reported."""
    lines: list[str] = []

    def call() -> int | None:
        if isinstance(body, BaseException):
            raise body
        assert callable(body)
        result = body()
        assert result is None or isinstance(result, int)
        return result

    code = run_guarded(call, report=lines.append, verbose=verbose)  # type: ignore[arg-type]
    return code, lines


# --- the exit codes ------------------------------------------------------------------


def test_exit_codes_are_the_documented_contract() -> None:
    """0 ok, 1 drift, 2 usage, 3 environment, 4 internal, 130 interrupted (docs/cli.md)."""
    assert {code.name: int(code) for code in ExitCode} == {
        "OK": 0,
        "DRIFT": 1,
        "USAGE": 2,
        "ENVIRONMENT": 3,
        "INTERNAL": 4,
        "INTERRUPTED": 130,
    }
    assert str(ExitCode.ENVIRONMENT) == "3"
    assert f"exit {ExitCode.INTERNAL}" == "exit 4"


def test_every_exception_class_exits_with_an_exit_code_member() -> None:
    """Each class of the exception tree carries an ExitCode, never a bare literal."""
    classes = [
        getattr(errors, name)
        for name in errors.__all__
        if isinstance(getattr(errors, name), type)
        and issubclass(getattr(errors, name), ReprocheckError)
    ]
    assert len(classes) >= 8
    for cls in classes:
        assert isinstance(cls.exit_code, ExitCode), cls
        assert cls.exit_code != ExitCode.DRIFT, cls
    assert InputError.exit_code == ExitCode.USAGE
    assert EnvironmentFailure.exit_code == ExitCode.ENVIRONMENT
    assert InternalError.exit_code == ExitCode.INTERNAL


# --- classification ------------------------------------------------------------------


def test_a_reprocheck_error_keeps_its_exit_code_message_and_hint() -> None:
    """A ReprocheckError is reported as Error/Hint and exits with its own code."""
    code, lines = _run(InputError("steps must be >= 1", hint="Pass a positive number."))
    assert code == ExitCode.USAGE
    assert lines == ["Error: steps must be >= 1", "Hint: Pass a positive number."]


def test_an_error_without_a_hint_is_one_line() -> None:
    """No hint, no Hint line."""
    code, lines = _run(EnvironmentFailure("pip failed"))
    assert code == ExitCode.ENVIRONMENT
    assert lines == ["Error: pip failed"]


def test_a_message_over_several_lines_is_reported_on_one() -> None:
    """CI logs are read line by line: the Error line is one line."""
    _, lines = _run(InputError("first\nsecond"))
    assert lines == ["Error: first second"]


def test_keyboard_interrupt_exits_130() -> None:
    """Ctrl-C: exit 130 with `Error: interrupted.`, no traceback even when verbose."""
    code, lines = _run(KeyboardInterrupt(), verbose=True)
    assert code == ExitCode.INTERRUPTED == 130
    assert lines == ["Error: interrupted."]


@pytest.mark.parametrize("name", ["torch", "safetensors", "deepdiff", "numpy", "piptools", "nox"])
def test_a_missing_runtime_dependency_is_an_environment_failure(name: str) -> None:
    """A missing torch (or numpy...) exits 3 with the install hint, not as a bug."""
    code, lines = _run(ModuleNotFoundError(f"No module named {name!r}", name=name))
    assert code == ExitCode.ENVIRONMENT
    assert lines == [
        f"Error: this environment lacks {name}, which reprocheck needs for this command",
        f"Hint: Install it (e.g. `python -m pip install {name}`) or run reprocheck inside "
        "the environment you want to check.",
    ]


def test_a_missing_module_of_reprocheck_itself_is_a_bug() -> None:
    """Only the runtime dependencies count as the environment's: any other import is a bug."""
    missing = ModuleNotFoundError("No module named 'reprocheck.gone'", name="reprocheck.gone")
    code, lines = _run(missing)
    assert code == ExitCode.INTERNAL
    assert lines[0] == (
        "Error: reprocheck failed: ModuleNotFoundError: No module named 'reprocheck.gone'"
    )


def test_a_crash_exits_4_with_one_line_and_the_bug_hint() -> None:
    """Any other exception: exit 4, one Error line naming its type, the report hint."""
    code, lines = _run(RuntimeError("planted bug\nsecond line of detail"))
    assert code == ExitCode.INTERNAL
    assert lines == ["Error: reprocheck failed: RuntimeError: planted bug", BUG_HINT]


def test_a_crash_without_a_message_names_its_type() -> None:
    """An exception with no message still says what it was."""
    assert classify(AssertionError()).message == "reprocheck failed: AssertionError"


@pytest.mark.parametrize(
    "exc",
    [
        RuntimeError("x"),
        ValueError("x"),
        TypeError("x"),
        KeyError("x"),
        AssertionError("x"),
        OSError("x"),
        RecursionError("x"),
        ZeroDivisionError("x"),
    ],
    ids=lambda exc: type(exc).__name__,
)
def test_a_crash_never_exits_1(exc: Exception) -> None:
    """1 means drift and a CI gate acts on it: whatever crashes, the code is 4."""
    code, _ = _run(exc)
    assert code == ExitCode.INTERNAL
    assert code != ExitCode.DRIFT


def test_the_traceback_is_reported_only_when_verbose() -> None:
    """A crash shows its traceback first with verbose, then the same Error and Hint lines."""
    quiet_code, quiet = _run(RuntimeError("planted bug"))
    loud_code, loud = _run(RuntimeError("planted bug"), verbose=True)
    assert quiet_code == loud_code == ExitCode.INTERNAL
    assert not any("Traceback" in line for line in quiet)
    assert loud[0].startswith("Traceback (most recent call last):")
    assert loud[0].rstrip().endswith("RuntimeError: planted bug")
    assert loud[1:] == quiet


def test_verbose_may_be_decided_when_the_crash_happens() -> None:
    """A callable verbose is asked only for a crash (the CLI reads -v parsed inside the body)."""
    asked: list[bool] = []

    def verbose() -> bool:
        asked.append(True)
        return True

    _run(InputError("bad"), verbose=verbose)
    assert asked == []
    _, lines = _run(RuntimeError("boom"), verbose=verbose)
    assert asked == [True]
    assert lines[0].startswith("Traceback")


def test_an_input_error_never_shows_a_traceback() -> None:
    """Even verbose, a ReprocheckError is Error/Hint only."""
    _, lines = _run(ScenarioError("scenario 'x': building it raised ValueError: no"), verbose=True)
    assert not any("Traceback" in line for line in lines)


def test_an_explicit_internal_error_has_no_traceback_of_the_boundary() -> None:
    """An InternalError raised on purpose (a failed rank) is reported like any other error."""
    code, lines = _run(InternalError("rank 1: reprocheck failed: KeyError: 'x'"), verbose=True)
    assert code == ExitCode.INTERNAL
    assert lines == ["Error: rank 1: reprocheck failed: KeyError: 'x'", BUG_HINT]


# --- run_guarded and guarded -----------------------------------------------------------


def test_the_body_exit_code_is_returned_and_none_means_ok() -> None:
    """Without an exception, the body's own code comes back (None: 0), nothing reported."""
    assert _run(lambda: ExitCode.DRIFT) == (ExitCode.DRIFT, [])
    assert _run(lambda: None) == (ExitCode.OK, [])


def test_passthrough_and_system_exit_are_not_classified() -> None:
    """The CLI's own exits pass through; so does SystemExit (argparse's usage errors)."""

    class ClickExit(RuntimeError):
        pass

    def exits() -> None:
        raise ClickExit

    with pytest.raises(ClickExit):
        run_guarded(exits, report=print, passthrough=(ClickExit,))
    with pytest.raises(SystemExit):
        _run(SystemExit(2))


def test_guarded_block_sets_the_code_of_what_it_raised() -> None:
    """The `with` form: the code the block set, or the code of the error it raised."""
    lines: list[str] = []
    with guarded(report=lines.append) as outcome:
        outcome.code = ExitCode.DRIFT
    assert outcome.code == ExitCode.DRIFT
    with guarded(report=lines.append) as outcome:
        raise RuntimeError("boom")
    assert outcome.code == ExitCode.INTERNAL
    assert lines == ["Error: reprocheck failed: RuntimeError: boom", BUG_HINT]


def test_error_lines_are_error_then_hint() -> None:
    """The two lines every entry point shows."""
    assert error_lines(InputError("bad", hint="Fix it.")) == ["Error: bad", "Hint: Fix it."]


# --- the entry points ------------------------------------------------------------------


def test_matrix_main_turns_a_crash_into_exit_4(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The nox compare session's matrix entry point: a crash exits 4, one line, no traceback."""
    from reprocheck.integrations import matrix_main

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("planted bug")

    monkeypatch.setattr(matrix_main, "build_matrix", crash)
    code = matrix_main.main(["a", "b", "--baseline", "a", "--runs", str(tmp_path)])
    assert code == ExitCode.INTERNAL
    err = capsys.readouterr().err
    assert err.splitlines() == ["Error: reprocheck failed: RuntimeError: planted bug", BUG_HINT]


def test_matrix_main_reports_bad_input_as_before(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A baseline that is not among the environments is bad input: exit 2, Error line."""
    from reprocheck.integrations import matrix_main

    code = matrix_main.main(["a", "b", "--baseline", "c", "--runs", str(tmp_path)])
    assert code == ExitCode.USAGE
    assert capsys.readouterr().err.startswith("Error: ")


def test_nox_driver_turns_a_crash_into_exit_4(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`python -m reprocheck.nox` goes through the boundary: a crash exits 4, Ctrl-C 130."""
    from reprocheck.integrations import nox_sessions

    def crash(args: list[str]) -> int:
        raise RuntimeError("planted bug")

    monkeypatch.setattr(nox_sessions, "_drive", crash)
    assert nox_sessions.main([]) == ExitCode.INTERNAL
    assert capsys.readouterr().err.splitlines()[0] == (
        "Error: reprocheck failed: RuntimeError: planted bug"
    )

    def interrupted(args: list[str]) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(nox_sessions, "_drive", interrupted)
    assert nox_sessions.main([]) == ExitCode.INTERRUPTED
    assert capsys.readouterr().err == "Error: interrupted.\n"


def _rank(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exc: BaseException
) -> tuple[int, dict[str, object] | None]:
    """Run ``rank_main`` (rank 1) with a ``run`` that raises ``exc``: code, error file."""
    from reprocheck.replay.options import ReplayOptions
    from reprocheck.workflows.job import RunJob
    from reprocheck.workflows.launch import rank_main

    job = RunJob(names=("mlp",), out=tmp_path / "run", options=ReplayOptions())
    spec = tmp_path / "job.json"
    spec.write_text(json.dumps(job.to_dict()), encoding="utf-8")
    monkeypatch.setenv("REPROCHECK_RANK_ERRORS", str(tmp_path))
    monkeypatch.setenv("RANK", "1")

    def run(job: RunJob) -> None:
        raise exc

    code = rank_main(run, [str(spec)])
    error_file = tmp_path / "rank1.json"
    found = json.loads(error_file.read_text(encoding="utf-8")) if error_file.exists() else None
    return code, found


def test_a_crashing_rank_is_an_internal_error_for_the_launcher(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug in a rank exits 4 and tells the launcher InternalError, not EnvironmentFailure."""
    code, found = _rank(tmp_path, monkeypatch, RuntimeError("planted bug"))
    assert code == ExitCode.INTERNAL
    assert found is not None
    assert found["type"] == "InternalError"
    assert found["message"] == "rank 1: reprocheck failed: RuntimeError: planted bug"


def test_a_rank_keeps_the_class_of_a_reprocheck_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broken scenario in a rank stays a ScenarioError (exit 2)."""
    code, found = _rank(tmp_path, monkeypatch, ScenarioError("scenario 'x': building it raised"))
    assert code == ExitCode.USAGE
    assert found is not None
    assert found["type"] == "ScenarioError"


def test_a_rank_missing_torch_is_an_environment_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shared classification: a missing runtime dependency is the environment's (3)."""
    code, found = _rank(tmp_path, monkeypatch, ModuleNotFoundError("no torch", name="torch"))
    assert code == ExitCode.ENVIRONMENT
    assert found is not None
    assert found["type"] == "EnvironmentFailure"


def test_a_failed_process_group_in_a_rank_is_an_environment_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """torch.distributed's own errors (a lost peer) are the environment's, not a bug."""
    import torch.distributed as dist

    code, found = _rank(tmp_path, monkeypatch, dist.DistNetworkError("connection reset by peer"))
    assert code == ExitCode.ENVIRONMENT
    assert found is not None
    assert found["type"] == "EnvironmentFailure"
    assert found["message"] == "rank 1 failed: DistNetworkError: connection reset by peer"


def test_an_interrupted_rank_exits_130_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C reaches every rank: each exits 130; the launcher reports the interrupt."""
    code, found = _rank(tmp_path, monkeypatch, KeyboardInterrupt())
    assert code == ExitCode.INTERRUPTED
    assert found is None
