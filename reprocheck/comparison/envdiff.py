"""The environment half of a comparison: what changed between two fingerprints, ranked.

deepdiff finds every difference; this module reduces them to one line each (a dotted
``path``, the ``baseline`` and ``candidate`` values) and orders them by how likely each is
to move numbers: the torch build first, then BLAS/oneDNN, the distributed layout (world
size, backend, DDP bucket size), the CPU dispatch level, threads, determinism and precision
flags, CUDA, cuDNN, the GPU, the CPU model, numerics packages, the rest.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import Any

from reprocheck.comparison.env_effect import IN_FORCE, refine
from reprocheck.comparison.result import EnvChange

__all__ = [
    "HARDWARE",
    "RANKS",
    "diff_fingerprints",
    "is_hardware",
    "is_suspect",
    "rank_of",
    "suspect_phrase",
]

# Fields that differ between any two captures and say nothing about the numbers:
# timestamps, the fingerprint's own digest, interpreter paths, the raw text of the build
# config and parallel info (their parsed fields are diffed instead), where packages live.
_EXCLUDE_TOP = ("captured_at", "digest", "package_sources", "kind", "schema_version")
_EXCLUDE_PATHS = (
    "python.executable",
    "python.prefix",
    "python.base_prefix",
    "torch.config_raw",
    "torch.parallel_raw",
    "platform.node",
    "platform.hostname",
)

# (category, dotted-path glob patterns), most likely to move numbers first. Patterns are
# matched case-insensitively against the dotted path.
RANKS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "torch",
        (
            "torch.version",
            "torch.git_version",
            "torch.debug",
            "torch.cuda_compiled",
            "packages.torch",
        ),
    ),
    ("blas", ("torch.config", "torch.config.*", "torch.parallel*", "packages.mkl*")),
    (
        # Ranks, how their gradients are bucketed and reduced: each changes the order of
        # the gradient sums (and, with batch norm, the statistics each rank sees).
        "distributed",
        (
            "distributed.world_size",
            "distributed.backend",
            "distributed.bucket_cap_mb",
            "distributed.nccl_version",
            "env.nccl_*",
            "env.gloo_*",
            "env.tp_socket_ifname",
            "distributed",
            "distributed.*",
        ),
    ),
    (
        "cpu-capability",
        ("cpu.capability", "cpu.aten_cpu_capability_env", "env.aten_cpu_capability", "cpu.flags"),
    ),
    (
        "threads",
        (
            "threads",
            "threads.*",
            "env.omp_*",
            "env.mkl_*",
            "env.kmp_*",
            "env.openblas_*",
            "env.*_num_threads",
            "env.gomp_*",
            "cpu.cores",
            "cpu.cores.*",
        ),
    ),
    (
        "determinism",
        (
            "determinism",
            "determinism.*",
            "env.cublas_workspace_config",
            "env.nvidia_tf32_override",
            "env.pytorch_*",
            "env.torch_*",
            "env.cudnn_*",
            "env.pythonhashseed",
        ),
    ),
    ("cuda", ("cuda.available", "cuda.compiled_version", "cuda.runtime_version", "cuda.driver*")),
    ("cudnn", ("cuda.cudnn", "cuda.cudnn.*", "cuda.nccl", "cuda.nccl.*", "packages.nvidia-cudnn*")),
    ("gpu", ("cuda.devices", "cuda.devices.*", "cuda.*", "env.cuda_*")),
    # Another CPU with the same dispatch level can still pick other kernels (oneDNN and
    # MKL choose by model and cache sizes): a suspect when runs from two machines differ.
    ("cpu-model", ("cpu.model", "platform.machine")),
    (
        "numerics-package",
        (
            "packages.numpy",
            "packages.nvidia-*",
            "packages.triton",
            "packages.pytorch-triton*",
            "packages.intel-openmp",
            "packages.scipy",
            "packages.onednn*",
            "packages.safetensors",
        ),
    ),
    ("cpu", ("cpu", "cpu.*")),
    ("python", ("python", "python.*")),
    ("platform", ("platform", "platform.*")),
    ("package", ("packages.*",)),
)
_OTHER_RANK = len(RANKS)
#: Fingerprint paths that describe the machine rather than the software: the CPU (model,
#: instruction sets, dispatch level, cores), the GPUs and their driver.
HARDWARE: tuple[str, ...] = (
    "cpu.model",
    "cpu.flags",
    "cpu.capability",
    "cpu.cores",
    "platform.machine",
    "cuda.devices",
    "cuda.devices.*",
    "cuda.driver*",
)
#: Categories that name a likely cause in the verdict line.
_SUSPECT_RANK = next(i for i, (name, _) in enumerate(RANKS) if name == "numerics-package")


def _position(path: str) -> tuple[int, int, str]:
    lowered = path.lower()
    for rank, (category, patterns) in enumerate(RANKS):
        for order, pattern in enumerate(patterns):
            if fnmatch.fnmatchcase(lowered, pattern):
                return rank, order, category
    return _OTHER_RANK, 0, "other"


def rank_of(path: str) -> tuple[int, str]:
    """``(rank, category)`` of a dotted fingerprint path; lower ranks move numbers more."""
    rank, _, category = _position(path)
    return rank, category


def is_hardware(path: str) -> bool:
    """Whether a dotted fingerprint path describes the machine (:data:`HARDWARE`)."""
    return any(fnmatch.fnmatchcase(path.lower(), pattern) for pattern in HARDWARE)


def is_suspect(change: EnvChange) -> bool:
    """Whether a change is likely enough to move numbers to be named in the verdict line
    (a variable asking for what is already in force is not: comparison.env_effect)."""
    return change.category != IN_FORCE and rank_of(change.path)[0] <= _SUSPECT_RANK


def _missing(value: Any) -> bool:
    from deepdiff.helper import notpresent

    return value is notpresent


def _leaves(prefix: tuple[str, ...], value: Any) -> list[tuple[tuple[str, ...], Any]]:
    """Flatten nested dicts into leaf paths; lists stay whole values."""
    if isinstance(value, Mapping) and value:
        out: list[tuple[tuple[str, ...], Any]] = []
        for key, sub in value.items():
            out.extend(_leaves((*prefix, str(key)), sub))
        return out
    return [(prefix, value)]


def _lookup(data: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if not isinstance(data, Mapping) or part not in data:
            return None
        data = data[part]
    return data


def _differing(b: Mapping[str, Any], c: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``b`` and ``c`` without the entries they share, nested dicts pruned the same way.

    DeepDiff walks only what differs (its cost is per node: 60 ms over two whole 67M-model
    fingerprints that differ in one variable); the paths it reports are unchanged.
    """
    keep_b: dict[str, Any] = {}
    keep_c: dict[str, Any] = {}
    for key in [*b, *(k for k in c if k not in b)]:
        if key not in b or key not in c:
            if key in b:
                keep_b[key] = b[key]
            else:
                keep_c[key] = c[key]
        elif b[key] != c[key]:
            if isinstance(b[key], Mapping) and isinstance(c[key], Mapping):
                keep_b[key], keep_c[key] = _differing(b[key], c[key])
            else:
                keep_b[key], keep_c[key] = b[key], c[key]
    return keep_b, keep_c


def _set_like(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def diff_fingerprints(baseline: Mapping[str, Any], candidate: Mapping[str, Any]) -> list[EnvChange]:
    """Every difference between two fingerprint dicts, most likely to move numbers first.

    Nested dicts are reported leaf by leaf (``packages.numpy``), lists as whole values at
    the list's path, except lists of strings such as ``cpu.flags``, which are reported as
    what only each side has. Added and removed fields have ``None`` on the missing side.
    """
    b = {k: v for k, v in baseline.items() if k not in _EXCLUDE_TOP}
    c = {k: v for k, v in candidate.items() if k not in _EXCLUDE_TOP}
    if b == c:  # nothing to walk (DeepDiff takes 20 ms over a fingerprint's packages)
        return []
    from deepdiff import DeepDiff

    exclude = ["root" + "".join(f"[{part!r}]" for part in p.split(".")) for p in _EXCLUDE_PATHS]
    pruned = _differing(b, c)
    tree = DeepDiff(*pruned, view="tree", exclude_paths=exclude, threshold_to_diff_deeper=0)

    found: dict[tuple[str, ...], tuple[Any, Any]] = {}
    for levels in tree.values():
        for level in levels:
            raw = level.path(output_format="list")
            # Lists are reported whole, at their own path: an index means nothing to a reader.
            cut = next((i for i, p in enumerate(raw) if not isinstance(p, str)), len(raw))
            path = tuple(str(p) for p in raw[:cut])
            if cut < len(raw):
                found[path] = (_lookup(b, path), _lookup(c, path))
                continue
            t1 = None if _missing(level.t1) else level.t1
            t2 = None if _missing(level.t2) else level.t2
            if isinstance(t1, Mapping) or isinstance(t2, Mapping):
                # A whole section added or removed: one change per leaf.
                for leaf, value in _leaves(path, t1 if t1 is not None else t2):
                    found[leaf] = (value, None) if t1 is not None else (None, value)
                continue
            found[path] = (t1, t2)

    changes: list[EnvChange] = []
    for path, (old, new) in found.items():
        dotted = ".".join(path)
        shown_old, shown_new = old, new
        if _set_like(old) and _set_like(new):
            old_set, new_set = set(old), set(new)
            if old_set == new_set:
                continue  # the same flags in another order
            shown_old, shown_new = sorted(old_set - new_set), sorted(new_set - old_set)
        changes.append(EnvChange(dotted, shown_old, shown_new, rank_of(dotted)[1]))
    changes = refine(changes, b, c)
    changes.sort(key=lambda ch: (ch.category == IN_FORCE, *_position(ch.path)[:2], ch.path))
    return changes


_SHORT_NAMES = {
    "torch.version": "torch",
    "packages.torch": "torch",
    "cuda.runtime_version": "CUDA",
    "cuda.compiled_version": "CUDA (compiled)",
    "cuda.driver_version": "CUDA driver",
    "cpu.capability": "CPU capability",
    "cpu.model": "CPU model",
    "distributed.world_size": "world size",
    "distributed.backend": "distributed backend",
    "distributed.bucket_cap_mb": "DDP bucket MB",
    "distributed.nccl_version": "NCCL",
}


def _show(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "(none)"
    return str(value)


def suspect_phrase(changes: list[EnvChange], limit: int = 2) -> str:
    """The top suspects in words, e.g. ``torch 2.6.0 → 2.13.0, threads.intra_op 1 → 2``."""
    parts: list[str] = []
    seen: set[str] = set()
    # Values read inside the process (threads, dispatch level, versions, flags) lead;
    # the variables that ask for them follow.
    ordered = sorted(changes, key=lambda ch: ch.path.lower().startswith("env."))
    for change in ordered:
        if not is_suspect(change) or len(parts) >= limit:
            continue
        name = change.path.removeprefix("packages.")
        name = _SHORT_NAMES.get(change.path, name)
        if name in seen:  # torch.version and packages.torch say the same thing
            continue
        seen.add(name)
        if change.path == "cpu.flags":
            parts.append(f"cpu.flags -{_show(change.baseline)} +{_show(change.candidate)}")
        else:
            parts.append(f"{name} {_show(change.baseline)} → {_show(change.candidate)}")
    return ", ".join(parts)
