"""Is a scenario bitwise reproducible here? Replay it several times and compare everything.

:func:`check_determinism` replays a scenario N times in this process and once in a fresh
subprocess (``python -m reprocheck run``), then compares every replay with the first:
initial parameters, per-step batch, loss, metrics, gradient and parameter digests, the
operator trace and the final tensors, all bitwise. The answer is a value
(:class:`DeterminismResult`); when the replays differ, :class:`Difference` says where they
first part, in the order things happened: step, phase, and for traced steps the first
operator whose output differs.

Within one environment the operator sequence is the same from replay to replay, so traces
are compared index by index; a different operator or a different length is itself the
difference (across environments, compare aligns traces instead).
"""

from __future__ import annotations

import dataclasses
import os
import struct
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

from reprocheck._log import log
from reprocheck._schema import req, req_int, req_str
from reprocheck.errors import ArtifactError, EnvironmentFailure, InputError
from reprocheck.model.records import PHASES, ScenarioRecord, TraceEntry
from reprocheck.replay.options import ReplayOptions

if TYPE_CHECKING:
    import torch

__all__ = [
    "DeterminismResult",
    "DeterminismVerdict",
    "Difference",
    "check_determinism",
    "first_difference",
]

#: Whether every replay of a scenario in one environment was bitwise equal.
DeterminismVerdict = Literal["deterministic", "nondeterministic"]
SUBPROCESS = "subprocess"


@dataclasses.dataclass(frozen=True, slots=True)
class Difference:
    """Where two replays of one scenario first differ.

    Attributes:
        step: the training step (``None`` for the final tensors).
        phase: ``init``, ``forward``, ``backward``, ``optimizer``, or ``final``.
        kind: what differs: ``operator`` (an output digest), ``trace`` (the operator
            sequence itself), ``batch``, ``loss``, ``metric``, ``gradient``,
            ``parameter``, ``lr`` or ``tensor``.
        location: the operator, parameter, metric or tensor name.
        module: the operator's module path (``""`` outside any module or not an operator).
        index: the operator's index within its step (``None`` when not an operator).
        replay: the replay that differs from the reference: ``"2"``... or ``"subprocess"``.
        reference: the replay it is compared with (``"1"``).
        detail: one line on what was seen on each side.
    """

    step: int | None
    phase: str
    kind: str
    location: str
    module: str = ""
    index: int | None = None
    replay: str = ""
    reference: str = "1"
    detail: str = ""

    def describe(self) -> str:
        """E.g. ``step 0, forward, aten.mm.default in m.fc (replay 2 vs 1)``."""
        where = self.location + (f" in {self.module}" if self.module else "")
        if self.kind not in ("operator", "trace"):
            where = f"{self.kind} {where}" if self.location else self.kind
        when = "final tensors" if self.step is None else f"step {self.step}, {self.phase}"
        if self.replay == SUBPROCESS:
            against = f"fresh subprocess vs replay {self.reference}"
        else:
            against = f"replay {self.replay} vs {self.reference}"
        return f"{when}, {where} ({against})"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Any, where: str = "first_difference") -> Difference:
        """Inverse of :meth:`to_dict`; a malformed document is an ArtifactError."""
        step, index = (req(data, k, (int, type(None)), where) for k in ("step", "index"))
        return cls(
            step=None if step is None else req_int(data, "step", where, minimum=0),
            phase=req_str(data, "phase", where),
            kind=req_str(data, "kind", where),
            location=req_str(data, "location", where),
            module=req_str(data, "module", where),
            index=None if index is None else req_int(data, "index", where, minimum=0),
            replay=req_str(data, "replay", where),
            reference=req_str(data, "reference", where),
            detail=req_str(data, "detail", where),
        )


@dataclasses.dataclass(frozen=True, slots=True)
class DeterminismResult:
    """The verdict for one scenario.

    Attributes:
        scenario: the scenario's name.
        replays: how many replays were compared (in process plus the subprocess).
        verdict: ``deterministic`` when all are bitwise equal.
        first_difference: where the first differing replay parts from the first one.
    """

    scenario: str
    replays: int
    verdict: DeterminismVerdict
    first_difference: Difference | None = None

    @property
    def deterministic(self) -> bool:
        return self.verdict == "deterministic"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.scenario,
            "replays": self.replays,
            "verdict": self.verdict,
            "first_difference": (
                None if self.first_difference is None else self.first_difference.to_dict()
            ),
        }

    @classmethod
    def from_dict(cls, data: Any, where: str = "determinism result") -> DeterminismResult:
        """Inverse of :meth:`to_dict` (one entry of ``determinism --format json``)."""
        verdict = req(data, "verdict", str, where)
        if verdict not in get_args(DeterminismVerdict):
            raise ArtifactError(f"{where}: unknown verdict {verdict!r}")
        first = req(data, "first_difference", (dict, type(None)), where)
        return cls(
            scenario=req_str(data, "name", where),
            replays=req_int(data, "replays", where, minimum=1),
            verdict=verdict,
            first_difference=(
                None if first is None else Difference.from_dict(first, f"{where}.first_difference")
            ),
        )


Replayer = Callable[[], "tuple[ScenarioRecord, Mapping[str, torch.Tensor]]"]


def check_determinism(
    name: str,
    options: ReplayOptions | None = None,
    *,
    repeats: int = 2,
    fresh_process: bool = True,
) -> DeterminismResult:
    """Replay ``name`` ``repeats`` times here and once in a fresh process; compare bitwise.

    Args:
        name: a built-in scenario, ``module:function``, or an entry point's name.
        options: how to replay (default ``ReplayOptions()``; one process: world size 1).
        repeats: replays in this process (at least 1).
        fresh_process: also replay once through ``python -m reprocheck run`` in a new
            process (catches state that survives between replays in one process).

    Raises:
        InputError: bad options (naming the field); ScenarioError: the scenario cannot be
            built or run.
        EnvironmentFailure: the fresh process failed.
    """
    from reprocheck.replay import replay_scenario

    if repeats < 1:
        raise InputError(
            f"repeats must be >= 1, got {repeats}", hint="Use repeats 2.", field="repeats"
        )
    if repeats == 1 and not fresh_process:
        raise InputError(
            "one replay alone cannot show nondeterminism",
            hint="Use repeats 2, or fresh_process.",
            field="repeats",
        )
    chosen = ReplayOptions() if options is None else options

    def in_process() -> tuple[ScenarioRecord, Mapping[str, torch.Tensor]]:
        return replay_scenario(name, chosen)

    replayers: list[tuple[str, Replayer]] = [(str(i + 1), in_process) for i in range(repeats)]
    if fresh_process:
        replayers.append((SUBPROCESS, lambda: _replay_in_subprocess(name, chosen)))
    return compare_replays(name, replayers)


def compare_replays(name: str, replayers: Sequence[tuple[str, Replayer]]) -> DeterminismResult:
    """Run each replayer in turn and compare its result with the first one's."""
    reference: tuple[ScenarioRecord, Mapping[str, torch.Tensor]] | None = None
    found: Difference | None = None
    for label, replayer in replayers:
        which = "in a fresh process" if label == SUBPROCESS else f"{label}/{len(replayers)}"
        log(f"{name}: replay {which}", kind="progress")
        record, tensors = replayer()
        if reference is None:
            reference = (record, tensors)
            continue
        difference = first_difference(reference[0], reference[1], record, tensors)
        if difference is not None and found is None:
            found = dataclasses.replace(difference, replay=label)
    return DeterminismResult(
        scenario=name,
        replays=len(replayers),
        verdict="deterministic" if found is None else "nondeterministic",
        first_difference=found,
    )


def first_difference(
    a: ScenarioRecord,
    a_tensors: Mapping[str, torch.Tensor],
    b: ScenarioRecord,
    b_tensors: Mapping[str, torch.Tensor],
) -> Difference | None:
    """The first place, in the order things happened, where two replays differ bitwise."""
    for diff in _walk(a, b):
        if diff is not None:
            return diff
    return _tensor_difference(a_tensors, b_tensors)


def _walk(a: ScenarioRecord, b: ScenarioRecord) -> Iterator[Difference | None]:
    """Yield comparisons phase by phase, in the order the replay ran them."""
    a_trace, b_trace = _by_phase(a.trace), _by_phase(b.trace)
    yield _trace_difference(0, "init", a_trace, b_trace)
    yield _dict_difference(0, "init", "parameter", a.init_digests, b.init_digests)
    if len(a.steps) != len(b.steps):
        yield Difference(
            None, "final", "steps", "", detail=f"{len(a.steps)} vs {len(b.steps)} steps"
        )
    for sa, sb in zip(a.steps, b.steps, strict=False):
        s = sa.step
        # The batch is fetched before the traced forward (and left out of the trace).
        if sa.batch_digest != sb.batch_digest:
            yield Difference(s, "forward", "batch", "", detail="the batch differs")
        yield _trace_difference(s, "forward", a_trace, b_trace)
        yield _float_difference(s, "forward", kind="loss", key="", a=sa.loss, b=sb.loss)
        for key in sorted(set(sa.metrics) | set(sb.metrics)):
            yield _float_difference(
                s, "forward", kind="metric", key=key, a=sa.metrics.get(key), b=sb.metrics.get(key)
            )
        yield _trace_difference(s, "backward", a_trace, b_trace)
        yield _dict_difference(s, "backward", "gradient", sa.grad_digests, sb.grad_digests)
        yield _trace_difference(s, "optimizer", a_trace, b_trace)
        yield _float_difference(s, "optimizer", kind="lr", key="", a=sa.lr, b=sb.lr)
        yield _dict_difference(s, "optimizer", "parameter", sa.param_digests, sb.param_digests)
    # Phases the engine does not name (a scenario's own) still count.
    for step, phase in sorted(set(a_trace) | set(b_trace)):
        if phase not in PHASES:
            yield _trace_difference(step, phase, a_trace, b_trace)


def _by_phase(trace: Sequence[TraceEntry]) -> dict[tuple[int, str], list[TraceEntry]]:
    groups: dict[tuple[int, str], list[TraceEntry]] = {}
    for entry in trace:
        groups.setdefault((entry.step, entry.phase), []).append(entry)
    return groups


def _trace_difference(
    step: int,
    phase: str,
    a_trace: Mapping[tuple[int, str], list[TraceEntry]],
    b_trace: Mapping[tuple[int, str], list[TraceEntry]],
) -> Difference | None:
    a, b = a_trace.get((step, phase), []), b_trace.get((step, phase), [])
    for ea, eb in zip(a, b, strict=False):
        if (ea.op, ea.module) != (eb.op, eb.module):
            return Difference(
                step,
                phase,
                "trace",
                eb.op,
                eb.module,
                eb.index,
                detail=f"operator {ea.index}: {_op(ea)} vs {_op(eb)}",
            )
        if (ea.shapes, ea.dtypes, ea.digest) != (eb.shapes, eb.dtypes, eb.digest):
            return Difference(
                step,
                phase,
                "operator",
                eb.op,
                eb.module,
                eb.index,
                detail=f"output {ea.digest[:12]} vs {eb.digest[:12]}",
            )
    if len(a) != len(b):
        extra = (a if len(a) > len(b) else b)[min(len(a), len(b))]
        return Difference(
            step,
            phase,
            "trace",
            extra.op,
            extra.module,
            extra.index,
            detail=f"{len(a)} vs {len(b)} operators",
        )
    return None


def _op(entry: TraceEntry) -> str:
    return entry.op + (f" in {entry.module}" if entry.module else "")


def _dict_difference(
    step: int, phase: str, kind: str, a: Mapping[str, str], b: Mapping[str, str]
) -> Difference | None:
    # Parameters in the order the model lists them: the first differing one is the
    # earliest in the model, which is where a reader starts looking.
    for key in [*a, *(k for k in b if k not in a)]:
        if a.get(key) != b.get(key):
            detail = "missing on one side" if key not in a or key not in b else "digest differs"
            return Difference(step, phase, kind, key, detail=detail)
    return None


def _float_difference(
    step: int, phase: str, *, kind: str, key: str, a: float | None, b: float | None
) -> Difference | None:
    if _bits(a) == _bits(b):
        return None
    return Difference(step, phase, kind, key, detail=f"{a!r} vs {b!r}")


def _bits(value: float | None) -> bytes | None:
    return None if value is None else struct.pack("<d", value)


def _tensor_difference(
    a: Mapping[str, torch.Tensor], b: Mapping[str, torch.Tensor]
) -> Difference | None:
    # Byte for byte, not by digest: the final tensors are the last word.
    from reprocheck.model.digest import tensor_bytes

    for key in [*a, *(k for k in b if k not in a)]:
        if key not in a or key not in b:
            return Difference(None, "final", "tensor", key, detail="missing on one side")
        ta, tb = a[key], b[key]
        if ta.layout != tb.layout:  # a sparse tensor against its stored, densified copy
            ta, tb = ta.to_dense(), tb.to_dense()
        if (ta.dtype, ta.shape) != (tb.dtype, tb.shape):
            return Difference(None, "final", "tensor", key, detail="dtype or shape differs")
        if tensor_bytes(ta) != tensor_bytes(tb):
            return Difference(None, "final", "tensor", key, detail="contents differ")
    return None


def _replay_in_subprocess(
    name: str, options: ReplayOptions
) -> tuple[ScenarioRecord, dict[str, torch.Tensor]]:
    """Replay through ``python -m reprocheck run`` in a new process and read the run back."""
    import torch

    from reprocheck.artifacts.runs import load_run

    with tempfile.TemporaryDirectory(prefix="reprocheck-determinism-") as tmp:
        out = Path(tmp) / "run"
        command = [sys.executable, "-m", "reprocheck", "--quiet", "run", name, "--out", str(out)]
        command += ["--seed", str(options.seed), "--device", options.device]
        command += ["--trace-steps", str(options.trace_steps)]
        if options.steps is not None:
            command += ["--steps", str(options.steps)]
        env = dict(os.environ)
        # Same thread count as this process: the fresh process must differ only in being
        # fresh, not in how its kernels split their work.
        env["OMP_NUM_THREADS"] = str(torch.get_num_threads())
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0:
            lines = [ln for ln in (done.stderr or done.stdout).splitlines() if ln.strip()]
            raise EnvironmentFailure(
                f"scenario {name!r}: the fresh-process replay failed with exit code "
                f"{done.returncode}: {lines[-1] if lines else 'no output'}",
                hint=f"Run it yourself: {' '.join(command[1:])}",
            )
        run = load_run(out)
        record = run.records[name]
        with run.open_tensors(name) as reader:
            names = reader.keys()
            tensors = {key: reader.get(key) for key in names}
    return record, tensors
