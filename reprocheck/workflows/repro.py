"""Write a standalone reproduction of the first divergent operator (``reprocheck repro``).

From two runs, the first aligned traced operator whose output differs names the call
(scenario, step, trace index). The baseline's scenario is replayed here, in a fresh
process with the baseline's recorded settings (seed, steps, traced steps; its thread
count and allow-listed variables such as ``ATEN_CPU_CAPABILITY``), with a
:class:`~reprocheck.replay.capture.CaptureTracer` on that index. The call's inputs,
arguments and the baseline's output digest go to ``DIR`` with ``repro.py``
(:mod:`reprocheck.workflows.repro_script`), which needs only torch and safetensors. When
the replay here gives the baseline's output digest, the output itself is kept too, so the
script can tell by how many ULP another environment differs.

Example::

    from pathlib import Path
    from reprocheck.workflows.repro import write_repro

    repro = write_repro(Path("runs/old"), Path("runs/new"), Path("repro"))
    # then, anywhere with torch: python repro/repro.py
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reprocheck.errors import EnvironmentFailure, InputError, ScenarioError
from reprocheck.model.records import RECORDED_SOURCE
from reprocheck.replay.options import ReplayOptions

if TYPE_CHECKING:
    from reprocheck.artifacts.runs import Run
    from reprocheck.model.records import ScenarioRecord, TraceEntry

__all__ = ["Reproduction", "capture_main", "write_repro"]

_NO_DIVERGENCE = (
    "repro needs two runs whose traced operators differ; `reprocheck compare BASELINE "
    "CANDIDATE` shows whether and where they do."
)


@dataclasses.dataclass(frozen=True)
class Reproduction:
    """What :func:`write_repro` wrote.

    Attributes:
        directory: the reproduction directory (``repro.py`` and its data).
        scenario, step, phase, index, op, module: the call reproduced.
        reproduced: whether the replay here gave the baseline's output digest (then the
            output is stored and the script gives the ULP distance of other outputs).
    """

    directory: Path
    scenario: str
    step: int
    phase: str
    index: int
    op: str
    module: str
    reproduced: bool

    @property
    def script(self) -> Path:
        return self.directory / "repro.py"


def write_repro(
    baseline: Path,
    candidate: Path,
    out: Path,
    *,
    scenario: str | None = None,
    python: Path | None = None,
) -> Reproduction:
    """Find the first divergent operator of the two runs and write its reproduction.

    The first scenario (in the baseline's order) whose traced operators differ is taken,
    or ``scenario`` when given. The replay runs under ``python`` (an interpreter of the
    baseline's own environment with reprocheck installed, such as the matrix's
    ``.nox/replay-env-<env>/bin/python``), by default this one: only a replay that gives
    the baseline's output lets the script measure other outputs in ULP.

    Raises:
        InputError: a run cannot be read, the runs do not diverge in a traced operator,
            ``out`` is not new, the baseline was recorded from the user's own loop.
        ScenarioError: the baseline's scenario cannot be loaded or replayed here.
        EnvironmentFailure: the replay process failed.
    """
    from reprocheck.artifacts.repro_files import building, load_repro_json, write_script
    from reprocheck.artifacts.runs import load_run
    from reprocheck.replay.capture import CallKey
    from reprocheck.workflows.repro_script import script_text

    if python is not None and not Path(python).is_file():
        raise InputError(
            f"--python {python} is not a file",
            hint="Give the interpreter of the baseline's environment, e.g. "
            ".nox/replay-env-<env>/bin/python.",
        )
    run_b, run_c = load_run(Path(baseline)), load_run(Path(candidate))
    name, b_entry, c_entry = _first_divergent_call(run_b, run_c, _wanted(run_b, scenario))
    record = run_b.records[name]
    options = _replayable(record, baseline)
    meta = _meta(name, b_entry, c_entry, run_b.fingerprint, record.config.device)
    with building(Path(out)) as tmp:
        key = dataclasses.asdict(CallKey.of(record.trace, b_entry))
        _capture(name, options, key, meta, out=tmp, fingerprint=run_b.fingerprint, python=python)
        written = load_repro_json(tmp)
        write_script(tmp, script_text(written))
    return Reproduction(
        directory=Path(out),
        scenario=name,
        step=b_entry.step,
        phase=b_entry.phase,
        index=b_entry.index,
        op=b_entry.op,
        module=b_entry.module,
        reproduced=bool(written["reproduced"]),
    )


def _replayable(record: ScenarioRecord, baseline: Path) -> ReplayOptions:
    """The options to replay ``record`` with here; refuse what cannot be replayed."""
    from reprocheck.scenarios import load_scenario

    if record.source == RECORDED_SOURCE:
        raise InputError(
            f"{record.name!r} in {baseline} was recorded from your own training loop, so "
            "there is no scenario to replay for its inputs",
            hint="repro works on runs of scenarios (`reprocheck run`).",
        )
    load_scenario(record.name)  # an unknown scenario fails here, before the slow replay
    options = ReplayOptions.for_record(record.config)
    if options.world_size != 1:
        raise InputError(
            "repro replays one process; the baseline is a distributed run",
            hint="Compare single-process runs of the scenario and repro those.",
        )
    return options


def _wanted(run: Run, scenario: str | None) -> list[str]:
    if scenario is None:
        return list(run.records)
    if scenario not in run.records:
        raise InputError(
            f"the baseline has no scenario {scenario!r}",
            hint=f"The baseline's scenarios: {', '.join(run.records)}.",
            field="scenario",
        )
    return [scenario]


def _first_divergent_call(
    run_b: Run, run_c: Run, names: list[str]
) -> tuple[str, TraceEntry, TraceEntry]:
    from reprocheck.comparison.localize import align_traces, record_divergence

    diverged_untraced = None
    for name in names:
        b, c = run_b.records[name], run_c.records.get(name)
        if c is None:
            continue
        first = align_traces(b.trace, c.trace).first
        if first is not None:
            return name, first.baseline, first.candidate
        if diverged_untraced is None and record_divergence(b, c) is not None:
            diverged_untraced = name
    if diverged_untraced is not None:
        raise InputError(
            f"the runs of {diverged_untraced!r} diverge, but in no traced operator",
            hint="Trace the steps where they part: `reprocheck run --trace-steps N` for "
            "both runs (`reprocheck compare` names the step).",
        )
    raise InputError("the runs do not diverge in any scenario they share", hint=_NO_DIVERGENCE)


def _meta(
    name: str, b: TraceEntry, c: TraceEntry, fingerprint: Mapping[str, Any], device: str
) -> dict[str, Any]:
    torch_info = fingerprint.get("torch", {})
    return {
        "scenario": name,
        "step": b.step,
        "phase": b.phase,
        "index": b.index,
        "op": b.op,
        "module": b.module,
        "digest": b.digest,
        "candidate_digest": c.digest,
        "device": device,
        "baseline_torch": str(torch_info.get("version", "?")),
        "baseline_threads": fingerprint.get("threads", {}).get("intra_op"),
        "baseline_capability": fingerprint.get("cpu", {}).get("capability"),
    }


def baseline_env(fingerprint: Mapping[str, Any]) -> dict[str, str]:
    """This process's environment with the baseline's allow-listed variables in force.

    Every variable the fingerprint allow-lists (threads, dispatch level, BLAS modes...)
    is set as the baseline had it, or removed when it had none; the thread count is
    the baseline's torch intra-op count unless the baseline set ``OMP_NUM_THREADS``.
    """
    from reprocheck.env.envvars import ALLOWED_NAMES, is_allowed

    env = {k: v for k, v in os.environ.items() if not is_allowed(k) and k not in ALLOWED_NAMES}
    recorded = fingerprint.get("env", {})
    env.update({str(k): str(v) for k, v in recorded.items() if is_allowed(str(k))})
    threads = fingerprint.get("threads", {}).get("intra_op")
    if "OMP_NUM_THREADS" not in recorded and isinstance(threads, int) and threads > 0:
        env["OMP_NUM_THREADS"] = str(threads)
    return env


def _capture(
    name: str,
    options: ReplayOptions,
    key: dict[str, Any],
    meta: Mapping[str, Any],
    *,
    out: Path,
    fingerprint: Mapping[str, Any],
    python: Path | None,
) -> None:
    """Replay the baseline's scenario in a fresh process that writes the capture to ``out``."""
    job = {
        "scenario": name,
        "options": options.to_dict(),
        "key": key,
        "threads": meta["baseline_threads"],
        "meta": dict(meta),
        "out": str(out),
    }
    with tempfile.TemporaryDirectory(prefix="reprocheck-repro-") as tmp:
        job_file = Path(tmp) / "job.json"
        job_file.write_text(json.dumps(job), encoding="utf-8")
        done = _run(python, job_file, baseline_env(fingerprint))
    if done.returncode != 0:  # our own interpreter and module
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        if done.returncode == 2:
            raise ScenarioError(
                f"replaying {name!r} to capture {key['op']} failed: {last}",
                hint="The scenario must replay here as it did in the baseline.",
            )
        raise EnvironmentFailure(
            f"the replay process for {name!r} failed with exit {done.returncode}: {last}",
            hint="Run `reprocheck run` on the scenario here to see the failure.",
        )


def _run(
    python: Path | None, job_file: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(  # our own module, under the given (or this) interpreter
            [str(python or sys.executable), "-m", "reprocheck.cli.capture", str(job_file)],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as exc:
        raise EnvironmentFailure(
            f"cannot start {python or sys.executable}: {exc.strerror or exc}",
            hint="Give an interpreter that runs, with reprocheck installed.",
        ) from None


def capture_main(argv: Sequence[str]) -> None:
    """In the replay process: replay the job's scenario and write the captured call."""
    import torch

    from reprocheck.artifacts.jsonfile import load_json
    from reprocheck.artifacts.repro_files import write_call
    from reprocheck.replay.capture import CallKey, CaptureTracer
    from reprocheck.replay.loop import replay
    from reprocheck.scenarios import load_scenario

    job = load_json(Path(argv[0]), "capture job")
    if isinstance(job.get("threads"), int):
        torch.set_num_threads(job["threads"])
    tracers: list[CaptureTracer] = []

    def factory(root: str) -> CaptureTracer:
        tracers.append(CaptureTracer(root, CallKey(**job["key"])))
        return tracers[-1]

    replay(
        load_scenario(job["scenario"]),
        ReplayOptions.from_dict(job["options"]),
        tracer_factory=factory,
    )
    captured = tracers[0].captured if tracers else None
    meta = job["meta"]
    if captured is None:
        key = job["key"]
        raise ScenarioError(
            f"the replay here never makes call {key['occurrence'] + 1} of {key['op']} in "
            f"{key['module'] or '(no module)'} at step {key['step']} {key['phase']}",
            hint="The scenario's code or torch's operator sequence changed since the baseline.",
        )
    reproduced = captured.digest == meta["digest"]
    written = {
        **meta,
        "module": captured.module or meta["module"],
        "call": captured.args,
        "contents": captured.contents,
        "mutated": [list(m) for m in captured.mutated],
        "captured_digest": captured.digest,
        "reproduced": reproduced,
    }
    write_call(Path(job["out"]), written, captured.inputs, captured.outputs if reproduced else None)
