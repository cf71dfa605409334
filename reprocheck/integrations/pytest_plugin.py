"""pytest plugin: the ``reprocheck_baseline`` fixture and the ``--reprocheck-update`` option.

Registered through the ``pytest11`` entry point, so installing reprocheck is enough::

    def test_model_trains_as_before(reprocheck_baseline):
        reprocheck_baseline.check_scenario("mymodel:build", steps=5)

    def test_forward_is_unchanged(reprocheck_baseline):
        reprocheck_baseline.check_tensors({"logits": model(x)})

    def test_my_loop_trains_as_before(reprocheck_baseline, tmp_path):
        with reprocheck.record(tmp_path / "run", model=model, optimizer=opt) as rec:
            ...  # your loop, calling rec.step(loss) after each optimizer step
        reprocheck_baseline.check_run(tmp_path / "run")

Baselines live beside the test, in
``<test dir>/reprocheck_baselines/<test module>/<test name>/<check name>/``. A missing
baseline is recorded and the test fails once with "baseline recorded ... re-run" (as
pytest-regressions does), so CI never passes on a baseline it just wrote.
``--reprocheck-update`` re-records the baselines whose check fails and passes them;
baselines that pass are left as they are. Tolerances come from ``[tool.reprocheck]`` in the
nearest ``pyproject.toml`` above the test file (see docs/tolerances.md).

Importing this module (which pytest does at startup in every project where reprocheck is
installed) imports neither torch nor any other heavy dependency: they load on first use.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import torch

    from reprocheck.comparison.policy import Policy
    from reprocheck.workflows.baseline import BaselineOutcome

__all__ = ["BASELINE_DIR", "ReprocheckBaseline", "reprocheck_baseline"]

#: The directory, beside each test file, that holds its baselines.
BASELINE_DIR = "reprocheck_baselines"
_UNSAFE = re.compile(r"[^A-Za-z0-9._\-\[\]=]+")
_UPDATED: pytest.StashKey[list[str]] = pytest.StashKey()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("reprocheck", "reprocheck baselines")
    group.addoption(
        "--reprocheck-update",
        action="store_true",
        default=False,
        help="re-record reprocheck baselines that are missing or fail their check",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_UPDATED] = []


def _safe(part: str) -> str:
    return _UNSAFE.sub("_", part).strip("._") or "_"


class ReprocheckBaseline:
    """The ``reprocheck_baseline`` fixture's value: check against baselines beside the test.

    Attributes:
        directory: where this test's baselines live (one subdirectory per check name).
        update: whether ``--reprocheck-update`` was given.
    """

    def __init__(
        self, directory: Path, project_dir: Path | None, update: bool, record: list[str]
    ) -> None:
        self.directory = directory
        self.update = update
        self._project_dir = project_dir
        self._record = record
        self._policy: Policy | None = None

    @property
    def policy(self) -> Policy:
        """The tolerance policy: ``[tool.reprocheck]`` of the nearest pyproject.toml."""
        if self._policy is None:
            from reprocheck.comparison.policy import Policy, load_policy

            if self._project_dir is None:
                self._policy = Policy.from_preset("default")
            else:
                self._policy = load_policy(project_dir=self._project_dir)
        return self._policy

    def check_scenario(
        self,
        scenario: str | Callable[..., Any],
        *,
        steps: int | None = None,
        seed: int = 0,
        device: str = "cpu",
        trace_steps: int = 1,
        name: str | None = None,
    ) -> BaselineOutcome:
        """Replay a scenario here and fail the test if it drifted from its baseline.

        Args:
            scenario: a built-in name (``"mlp"``), ``"module:function"``, an entry point's
                name, or the build function itself (it must be importable by its module).
            steps: training steps (``None``: the scenario's default).
            seed: the seed for every random source.
            device: ``"cpu"`` or ``"cuda"``.
            trace_steps: how many first steps to trace operator by operator.
            name: the baseline's name within the test (default: from the scenario).

        Returns:
            The outcome (passed, or updated under ``--reprocheck-update``).
        """
        from reprocheck.replay.options import ReplayOptions
        from reprocheck.workflows import baseline

        target = _scenario_name(scenario)
        path = self.directory / _safe(name or target)

        def check() -> BaselineOutcome:
            options = ReplayOptions(steps=steps, seed=seed, device=device, trace_steps=trace_steps)
            return baseline.check_scenario(
                path, target, options, policy=self.policy, update=self.update
            )

        return self._conclude(self._guard(check))

    def check_tensors(
        self, tensors: Mapping[str, torch.Tensor], *, name: str = "tensors"
    ) -> BaselineOutcome:
        """Compare tensors the test computed with their baseline; fail the test on drift.

        Each tensor is checked with the policy's tolerance for ``"<name>/<tensor name>"``
        and its dtype; a missing or extra tensor, or another dtype or shape, fails.

        Args:
            tensors: name -> tensor (any device; compared on the CPU).
            name: the baseline's name within the test, and the policy keys' prefix.

        Returns:
            The outcome (passed, or updated under ``--reprocheck-update``).
        """
        from reprocheck.workflows import baseline

        path = self.directory / _safe(name)
        outcome = self._guard(
            lambda: baseline.check_tensors(
                path, tensors, name=name, policy=self.policy, update=self.update
            )
        )
        return self._conclude(outcome)

    def check_run(self, run: str | Path, *, name: str | None = None) -> BaselineOutcome:
        """Compare a run your test recorded with its baseline; fail the test on drift.

        Record the run inside the test with :func:`reprocheck.record` (``tmp_path`` is a
        good place), then hand its directory over. The first time, the run is copied in as
        the baseline (and the test fails once, asking for a re-run).

        Args:
            run: the run directory the test wrote.
            name: the baseline's name within the test (default: the run's scenario names).

        Returns:
            The outcome (passed, or updated under ``--reprocheck-update``).
        """
        from reprocheck.workflows.run_baseline import check_run

        def check() -> BaselineOutcome:
            label = name if name is not None else _run_label(Path(run))
            return check_run(
                self.directory / _safe(label), Path(run), policy=self.policy, update=self.update
            )

        return self._conclude(self._guard(check))

    def _guard(self, check: Callable[[], BaselineOutcome]) -> BaselineOutcome:
        from reprocheck._boundary import classify
        from reprocheck.errors import InternalError

        try:
            return check()
        except Exception as exc:  # classified as at every entry point
            error = classify(exc)  # a ReprocheckError, or a missing torch/numpy...
            if isinstance(error, InternalError):
                raise  # a crash: pytest reports it as an error, with its traceback
            hint = f"\nHint: {error.hint}" if error.hint else ""
            pytest.fail(f"reprocheck could not check: {error.message}{hint}", pytrace=False)

    def _conclude(self, outcome: BaselineOutcome) -> BaselineOutcome:
        if outcome.status in ("recorded", "updated"):
            self._record.append(str(outcome.path))
        if outcome.status == "failed":
            pytest.fail(outcome.message, pytrace=False)
        if outcome.status == "recorded" and not self.update:
            # As pytest-regressions does: a baseline written just now checked nothing.
            pytest.fail(
                f"reprocheck: {outcome.message}; re-run the test to check against it "
                "(and commit the directory with your tests)",
                pytrace=False,
            )
        return outcome


def _scenario_name(scenario: str | Callable[..., Any]) -> str:
    if isinstance(scenario, str):
        return scenario
    module = getattr(scenario, "__module__", None)
    qualname = getattr(scenario, "__qualname__", None)
    if not module or not qualname or "<" in qualname:
        raise TypeError(
            "check_scenario() takes a scenario name or a module-level build function, "
            f"got {scenario!r}"
        )
    return f"{module}:{qualname}"


def _run_label(run: Path) -> str:
    from reprocheck.artifacts import runs as store

    return "+".join(store.load_run(run).records) or "run"


def _project_dir(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        if (folder / "pyproject.toml").is_file():
            return folder
    return None


@pytest.fixture
def reprocheck_baseline(request: pytest.FixtureRequest) -> ReprocheckBaseline:
    """Check a scenario or tensors against a baseline stored beside the test.

    ``reprocheck_baseline.check_scenario("mymodel:build", steps=5)`` replays a scenario;
    ``reprocheck_baseline.check_tensors({"out": tensor})`` checks tensors the test made.
    """
    test_file = Path(request.node.path)
    # Class and parameters take part in the name: each test gets its own directory.
    parts = request.node.nodeid.split("::")[1:] or [request.node.name]
    directory = test_file.parent / BASELINE_DIR / _safe(test_file.stem) / _safe(".".join(parts))
    return ReprocheckBaseline(
        directory,
        _project_dir(test_file.parent),
        bool(request.config.getoption("reprocheck_update")),
        request.config.stash[_UPDATED],
    )


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    written = config.stash.get(_UPDATED, [])
    if written:
        terminalreporter.write_sep("=", "reprocheck baselines written", bold=True)
        for path in written:
            terminalreporter.write_line(f"  {path}")
