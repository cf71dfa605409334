"""Small synthetic runs for the compare tests, written through the real artifact writer.

A run here is a dict of scenario records (in ``to_dict`` form, so a test can edit any
field) and their final tensors; :func:`write_run` validates the records through
``ScenarioRecord.from_dict`` and writes them with ``reprocheck.artifacts.run_writer.RunWriter``,
exactly as a replay would. The digests are real digests of the tensors, and trace entries
are digested and summarised by the trace's own code (``replay.trace_digest``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from reprocheck.artifacts.jsonfile import dumps
from reprocheck.artifacts.run_writer import RunWriter
from reprocheck.model.digest import tensor_digest
from reprocheck.model.formats import FINGERPRINT_KIND, SCHEMA_VERSION
from reprocheck.model.records import ScenarioRecord
from reprocheck.replay.trace_digest import describe_outputs, op_info

Records = dict[str, dict[str, Any]]
Tensors = dict[str, dict[str, torch.Tensor]]


def fingerprint(**overrides: Any) -> dict[str, Any]:
    """A minimal fingerprint dict with the sections compare ranks."""
    data: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "kind": FINGERPRINT_KIND,
        "reprocheck_version": "0.1.0",
        "captured_at": "2026-01-01T00:00:00+00:00",
        "digest": "abc",
        "python": {"version": "3.11.9", "executable": "/usr/bin/python3"},
        "platform": {"system": "Linux", "machine": "x86_64"},
        "cpu": {"model": "Test CPU", "cores": 2, "flags": ["avx2", "fma"], "capability": "AVX2"},
        "torch": {"version": "2.13.0", "git_version": "abc", "config": {"blas": "mkl"}},
        "threads": {"intra_op": 2, "inter_op": 2},
        "determinism": {"deterministic_algorithms": False},
        "cuda": {"available": False},
        "env": {},
        "packages": {"torch": "2.13.0", "numpy": "2.1.0", "click": "8.1.7"},
    }
    for dotted, value in overrides.items():
        node = data
        *parents, last = dotted.split("__")
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value
    return data


def _entry(index: int, phase: str, op: str, module: str, t: torch.Tensor) -> dict[str, Any]:
    """A trace entry for ``op`` returning ``t``, digested and summarised as the trace does."""
    namespace, packet, overload = op.split(".")
    func = getattr(getattr(getattr(torch.ops, namespace), packet), overload)
    digest, (absmax, mean, sample) = describe_outputs([t], (tuple(t.shape),), t, op_info(func))
    return {
        "step": 0,
        "index": index,
        "phase": phase,
        "op": op,
        "module": module,
        "shapes": [list(t.shape)],
        "dtypes": [str(t.dtype).removeprefix("torch.")],
        "digest": digest,
        "absmax": absmax,
        "mean": mean,
        "sample": list(sample),
    }


def scenario(
    name: str = "mlp", *, steps: int = 3, seed: int = 0
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """A record dict and final tensors for a small made-up scenario ``name``."""
    g = torch.Generator().manual_seed(seed)
    weight = torch.randn(4, 3, generator=g)
    bias = torch.randn(4, generator=g)
    exp_avg = torch.randn(4, 3, generator=g)
    counts = torch.arange(4, dtype=torch.int64)
    tensors = {
        "param/fc.weight": weight,
        "param/fc.bias": bias,
        "buffer/counts": counts,
        "optim/fc.weight/exp_avg": exp_avg,
    }
    params = {"fc.weight": weight, "fc.bias": bias}
    step_dicts = []
    for s in range(steps):
        scale = 1.0 + s
        step_dicts.append(
            {
                "step": s,
                "loss": 1.0 / scale,
                "grad_norm": 0.5 / scale,
                "param_norm": 3.0 + s,
                "lr": 0.1,
                "batch_digest": f"batch{s}",
                "metrics": {"acc": 0.5},
                "param_digests": {k: tensor_digest(v * scale) for k, v in params.items()},
                "grad_digests": {k: tensor_digest(v / scale) for k, v in params.items()},
                "param_norms": {k: float(v.norm()) * scale for k, v in params.items()},
            }
        )
    x = torch.randn(2, 3, generator=g)
    h = x @ weight.T + bias
    trace = [
        _entry(0, "init", "aten.normal_.default", name, weight),
        _entry(1, "forward", "aten.addmm.default", f"{name}.fc", h),
        _entry(2, "forward", "aten.relu.default", f"{name}.act", h.relu()),
        _entry(3, "forward", "aten.native_dropout.default", f"{name}.drop", h.relu() * 2),
        _entry(4, "backward", "aten.mm.default", f"{name}.fc", weight * 0.5),
        _entry(5, "optimizer", "aten.add_.Tensor", f"{name}.fc", weight * 0.25),
    ]
    record = {
        "name": name,
        "source": f"builtin:{name}",
        "config": {
            "steps": steps,
            "seed": seed,
            "device": "cpu",
            "dtype": "float32",
            "trace_steps": 1,
        },
        "init_digests": {k: tensor_digest(v) for k, v in params.items()},
        "steps": step_dicts,
        "trace": trace,
        "tensors": {
            k: {"dtype": str(v.dtype).removeprefix("torch."), "shape": list(v.shape)}
            for k, v in tensors.items()
        },
        "modules": [name, f"{name}.fc", f"{name}.act", f"{name}.drop"],
        "duration_s": 0.1,
    }
    return record, tensors


def make_run(*names: str, steps: int = 3) -> tuple[Records, Tensors]:
    """Records and tensors for several made-up scenarios (default: ``mlp``)."""
    records: Records = {}
    tensors: Tensors = {}
    for name in names or ("mlp",):
        records[name], tensors[name] = scenario(name, steps=steps)
    return records, tensors


def write_run(
    out: Path,
    records: Records,
    tensors: Tensors,
    fp: dict[str, Any] | None = None,
) -> Path:
    """Write a run directory through ``reprocheck.artifacts.run_writer.RunWriter``."""
    with RunWriter(out, fingerprint=fp if fp is not None else fingerprint()) as writer:
        for name, data in records.items():
            writer.add(ScenarioRecord.from_dict(copy.deepcopy(data)), tensors[name])
    return out


def pair(
    tmp: Path,
    edit: Callable[[Records, Tensors], None] | None = None,
    *,
    names: tuple[str, ...] = ("mlp",),
    candidate_fp: dict[str, Any] | None = None,
) -> tuple[Path, Path]:
    """A baseline run and a candidate copy changed by ``edit(records, tensors)``."""
    tmp.mkdir(parents=True, exist_ok=True)
    records, tensors = make_run(*names)
    base = write_run(tmp / "base", records, tensors)
    records_c = copy.deepcopy(records)
    tensors_c = {n: {k: v.clone() for k, v in ts.items()} for n, ts in tensors.items()}
    if edit is not None:
        edit(records_c, tensors_c)
    cand = write_run(tmp / "cand", records_c, tensors_c, candidate_fp)
    return base, cand


def write_fingerprint(path: Path, fp: dict[str, Any]) -> Path:
    """Write a fingerprint file as ``reprocheck fingerprint --format json`` would."""
    path.write_text(dumps(fp), encoding="utf-8")
    return path
