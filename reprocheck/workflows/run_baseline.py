"""Check a run recorded by your own loop against a stored baseline run (the plugin's ``check_run``).

The test records a run with :func:`reprocheck.record` (anywhere: ``tmp_path`` is the usual
place) and hands its path over. The first time, the run is copied to the baseline directory
through the run writer (so the baseline is a whole run, written atomically) and reported as
``recorded``; afterwards the recorded run is compared with the baseline under the policy.
With ``update=True`` a baseline that drifted or cannot be read is replaced by the new run;
one that passes is left as it is, as for scenario baselines (:mod:`.baseline`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from reprocheck.errors import ArtifactError
from reprocheck.workflows.baseline import (
    BaselineOutcome,
    replace_run,
    scenario_failure,
    update_hint,
)

if TYPE_CHECKING:
    from reprocheck.comparison.policy import Policy

__all__ = ["check_run"]


def check_run(
    path: Path, run: Path, *, policy: Policy | None = None, update: bool = False
) -> BaselineOutcome:
    """Compare the run at ``run`` with the baseline run at ``path``.

    Args:
        path: the baseline run directory (written from ``run`` when missing).
        run: a run directory, typically written by :func:`reprocheck.record` in the test.
        policy: the tolerance policy (default preset when None).
        update: replace a baseline that drifted or cannot be read.

    Raises:
        ArtifactError: ``run`` is missing or not a readable run (the run under test, not
            the baseline: a bad baseline is a failed check, or replaced under ``update``).
    """
    from reprocheck.artifacts import runs as store
    from reprocheck.comparison import compare

    path, run = Path(path), Path(run)
    candidate = store.load_run(run)
    names = ", ".join(candidate.records)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_run(candidate, path)
        return BaselineOutcome("recorded", path, f"baseline recorded at {path}")
    try:
        result = compare(path, run, policy=policy)
    except ArtifactError as exc:  # an unreadable baseline, or one of other scenarios/settings
        if update:
            replace_run(candidate, path)
            return BaselineOutcome("updated", path, f"baseline re-recorded at {path}")
        message = f"the baseline cannot be checked against: {exc.message}\n{update_hint(path)}"
        return BaselineOutcome("failed", path, message)
    if result.verdict != "drift":
        return BaselineOutcome(
            "passed", path, f"{names}: {result.verdict} against {path}", result=result
        )
    if update:
        replace_run(candidate, path)
        return BaselineOutcome(
            "updated", path, f"baseline re-recorded at {path} (it drifted)", result=result
        )
    return BaselineOutcome("failed", path, scenario_failure(names, path, result), result=result)
