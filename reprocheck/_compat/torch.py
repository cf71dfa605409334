"""The one door to version-dependent and private torch APIs (torch 2.1 through the newest).

Rules: every function here works on every supported torch; a setting that a version lacks
reads as ``None`` rather than raising. Callers import torch lazily through these helpers.

Sections are owned by feature areas; add to your section, keep each function small.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["torch_module"]


def torch_module() -> Any:
    """Import torch lazily (``reprocheck --help`` must never import it)."""
    import torch

    return torch


# --- fingerprint: build info, dispatch level, determinism and precision flags -----------
# Every reader returns None where the running torch lacks the API: a fingerprint with a
# null field is useful, a fingerprint that crashes on an older torch is not.


def fp_read(path: str) -> Any:
    """Read ``torch.<path>`` (dotted), or None where this torch lacks it or it fails."""
    import warnings

    obj: Any = torch_module()
    try:
        # torch >= 2.9 may warn that the legacy TF32 flags are deprecated; reading them
        # is still the only way to know what older code paths will do.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for part in path.split("."):
                obj = getattr(obj, part)
            return obj() if callable(obj) else obj
    except Exception:  # noqa: BLE001 - any failure to read one setting is reported as null
        return None


def fp_cpu_capability() -> str | None:
    """The ATen CPU dispatch level in force (``AVX512``, ``AVX2``, ``DEFAULT``...)."""
    value = fp_read("backends.cpu.get_cpu_capability")
    return value if isinstance(value, str) else None


def fp_build() -> dict[str, Any]:
    """Version, git hash, debug flag, compiled CUDA/HIP, and the build/parallel reports."""

    def text(path: str) -> str | None:
        value = fp_read(path)
        return str(value) if isinstance(value, str) else None

    debug = fp_read("version.debug")
    return {
        "version": text("__version__"),
        "git_version": text("version.git_version"),
        "debug": debug if isinstance(debug, bool) else None,
        "cuda": text("version.cuda"),
        "hip": text("version.hip"),
        "config_show": text("__config__.show") or "",
        "parallel_info": text("__config__.parallel_info") or "",
    }


def fp_threads() -> tuple[int | None, int | None]:
    """(intra-op, inter-op) thread counts of ATen in this process."""
    intra = fp_read("get_num_threads")
    inter = fp_read("get_num_interop_threads")
    return (
        intra if isinstance(intra, int) else None,
        inter if isinstance(inter, int) else None,
    )


# (key in the fingerprint, dotted path under torch); each may be missing on older torch.
_FP_FLAGS = (
    ("deterministic_algorithms", "are_deterministic_algorithms_enabled"),
    ("warn_only", "is_deterministic_algorithms_warn_only_enabled"),
    ("cudnn_deterministic", "backends.cudnn.deterministic"),
    ("cudnn_benchmark", "backends.cudnn.benchmark"),
    ("cudnn_enabled", "backends.cudnn.enabled"),
    ("cuda_matmul_allow_tf32", "backends.cuda.matmul.allow_tf32"),
    ("cudnn_allow_tf32", "backends.cudnn.allow_tf32"),
    (
        "cuda_matmul_allow_fp16_reduced_precision_reduction",
        "backends.cuda.matmul.allow_fp16_reduced_precision_reduction",
    ),
    (
        "cuda_matmul_allow_bf16_reduced_precision_reduction",
        "backends.cuda.matmul.allow_bf16_reduced_precision_reduction",
    ),
    ("mkldnn_enabled", "backends.mkldnn.enabled"),
    ("float32_matmul_precision", "get_float32_matmul_precision"),
    ("fill_uninitialized_memory", "utils.deterministic.fill_uninitialized_memory"),
)

# torch 2.9 added the fp32_precision tree; older versions have only the allow_tf32 flags.
_FP_FP32_PRECISION = (
    "backends.fp32_precision",
    "backends.cuda.matmul.fp32_precision",
    "backends.cudnn.fp32_precision",
    "backends.cudnn.conv.fp32_precision",
    "backends.cudnn.rnn.fp32_precision",
    "backends.mkldnn.fp32_precision",
    "backends.mkldnn.matmul.fp32_precision",
    "backends.mkldnn.conv.fp32_precision",
    "backends.mkldnn.rnn.fp32_precision",
)


def fp_determinism() -> dict[str, Any]:
    """Determinism, TF32 and matmul-precision settings; None for each one this torch lacks."""
    flags: dict[str, Any] = {}
    for key, path in _FP_FLAGS:
        value = fp_read(path)
        flags[key] = value if isinstance(value, (bool, str)) else None
    precision: dict[str, str] = {}
    for path in _FP_FP32_PRECISION:
        value = fp_read(path)
        if isinstance(value, str):
            precision[f"torch.{path}"] = value
    flags["fp32_precision"] = precision or None
    return flags


def fp_cuda_available() -> bool:
    """Whether CUDA (or ROCm) is usable, checked cheaply first.

    A CPU build answers from its build info alone; only a CUDA/ROCm build asks the driver
    (``torch.cuda.is_available`` counts devices without creating a context).
    """
    torch = torch_module()
    if getattr(torch.version, "cuda", None) is None and getattr(torch.version, "hip", None) is None:
        return False
    return fp_read("cuda.is_available") is True


_FP_DEVICE_KEYS = ("name", "capability", "total_memory", "multiprocessors", "uuid")


def fp_cuda_details() -> dict[str, Any]:
    """cuDNN, NCCL and per-device facts. Call only when :func:`fp_cuda_available` is true."""
    torch = torch_module()
    cudnn = fp_read("backends.cudnn.version")
    nccl = fp_read("cuda.nccl.version")
    if isinstance(nccl, tuple):
        nccl = ".".join(str(part) for part in nccl)
    devices: list[dict[str, Any]] = []
    count = fp_read("cuda.device_count")
    for index in range(count if isinstance(count, int) else 0):
        try:
            props = torch.cuda.get_device_properties(index)
        except Exception:  # noqa: BLE001 - one unreadable device must not hide the others
            devices.append(dict.fromkeys(_FP_DEVICE_KEYS))
            continue
        major, minor = getattr(props, "major", None), getattr(props, "minor", None)
        devices.append(
            {
                "name": getattr(props, "name", None),
                "capability": f"{major}.{minor}" if major is not None else None,
                "total_memory": getattr(props, "total_memory", None),
                "multiprocessors": getattr(props, "multi_processor_count", None),
                "uuid": str(props.uuid) if getattr(props, "uuid", None) is not None else None,
            }
        )
    return {
        "cudnn": str(cudnn) if isinstance(cudnn, int) else None,
        "nccl": str(nccl) if nccl is not None else None,
        "devices": devices,
    }


# --- replay: deterministic mode (set/restore), dispatch-mode tracing, autograd nodes ----

# torch 2.9 added the fp32_precision tree; older versions only have the allow_tf32 flags.
_FP32_PRECISION_PATHS = (
    ("backends",),
    ("backends", "cuda", "matmul"),
    ("backends", "cudnn"),
    ("backends", "cudnn", "conv"),
    ("backends", "cudnn", "rnn"),
    ("backends", "mkldnn"),
    ("backends", "mkldnn", "matmul"),
    ("backends", "mkldnn", "conv"),
    ("backends", "mkldnn", "rnn"),
)


def _fp32_precision_holders(torch: Any) -> list[Any]:
    holders = []
    for path in _FP32_PRECISION_PATHS:
        obj: Any = torch
        for part in path:
            obj = getattr(obj, part, None)
            if obj is None:
                break
        if obj is not None and isinstance(getattr(obj, "fp32_precision", None), str):
            holders.append(obj)
    return holders


def numeric_mode_state() -> dict[str, Any]:
    """Snapshot every determinism and TF32 setting the replay engine changes."""
    torch = torch_module()
    return {
        "deterministic": torch.are_deterministic_algorithms_enabled(),
        "warn_only": torch.is_deterministic_algorithms_warn_only_enabled(),
        "cudnn_deterministic": torch.backends.cudnn.deterministic,
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
        "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
        "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
        "matmul_precision": torch.get_float32_matmul_precision(),
        "fp32_precision": [h.fp32_precision for h in _fp32_precision_holders(torch)],
    }


def restore_numeric_mode(state: dict[str, Any]) -> None:
    """Put back what :func:`numeric_mode_state` captured."""
    torch = torch_module()
    torch.use_deterministic_algorithms(state["deterministic"], warn_only=state["warn_only"])
    torch.backends.cudnn.deterministic = state["cudnn_deterministic"]
    torch.backends.cudnn.benchmark = state["cudnn_benchmark"]
    torch.backends.cuda.matmul.allow_tf32 = state["matmul_allow_tf32"]
    torch.backends.cudnn.allow_tf32 = state["cudnn_allow_tf32"]
    torch.set_float32_matmul_precision(state["matmul_precision"])
    # The legacy flags above rewrite parts of the fp32_precision tree: restore it last.
    for holder, value in zip(_fp32_precision_holders(torch), state["fp32_precision"], strict=True):
        holder.fp32_precision = value


def set_deterministic_mode() -> None:
    """Deterministic kernels, no cuDNN autotuning, no TF32 anywhere."""
    torch = torch_module()
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")


def needs_cublas_workspace_config() -> bool:
    """Whether deterministic cuBLAS needs ``CUBLAS_WORKSPACE_CONFIG`` on this torch.

    torch 2.10 dropped the requirement (pytorch/pytorch#161749: workspaces are allocated
    per handle and stream); older versions raise without it under deterministic mode.
    """
    return torch_version_tuple() < (2, 10)


def torch_version_tuple() -> tuple[int, int]:
    """``(major, minor)`` of the installed torch."""
    # "2.13.0+cpu", "2.6.0a0+git1234", "2.10.0.dev20250101": only the leading digits count.
    found = re.match(r"(\d+)\.(\d+)", str(torch_module().__version__))
    return (int(found.group(1)), int(found.group(2))) if found else (0, 0)


def stable_norms(tensors: list[Any]) -> list[float]:
    """The 2-norm of each tensor as a Python float, independent of the thread count.

    A reduction split across threads sums in another order under another thread count,
    so a bitwise-equal tensor could get a different norm. The norms are therefore taken
    on one thread (the caller's setting is restored at once), in one fused call, in the
    tensors' own dtype (float32 at least): float64 copies of every parameter and gradient
    each step cost more than the rest of the recording. The norms only draw the divergence growth;
    bitwise equality is judged by the digests.
    """
    torch = torch_module()
    if not tensors:
        return []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        if all(t.dtype in (torch.float32, torch.float64) for t in tensors):
            found = list(torch._foreach_norm(list(tensors), 2))
        else:  # float16/bfloat16 norms would keep three digits: widen those to float32
            found = [
                torch.linalg.vector_norm(t, dtype=torch.float32 if t.element_size() < 4 else None)
                for t in tensors
            ]
        # One stack of the 0-d norms where they share a dtype (a widening to a Python float
        # is exact either way): per-norm conversions cost 6 ms over a GPT's 640 tensors.
        if len({f.dtype for f in found}) == 1 and all(f.dim() == 0 for f in found):
            return [float(v) for v in torch.stack(found).tolist()]
        return [float(f) for f in found]
    finally:
        torch.set_num_threads(threads)


# --- trace: TorchDispatchMode, current autograd node, module hooks -----------------------


def dispatch_mode_base() -> type[Any] | None:
    """``TorchDispatchMode`` (private module, present since torch 1.13), or ``None``."""
    try:
        from torch.utils._python_dispatch import TorchDispatchMode
    except ImportError:  # pragma: no cover - every supported torch has it
        return None
    return TorchDispatchMode


def autograd_node_getter() -> Any:
    """``torch._C._current_autograd_node`` (to call per operator), or ``None`` without it.

    The function is private (torch >= 2.0): called during backward it returns the
    autograd node being run; without it, backward operators get no module path.
    """
    import torch

    return getattr(torch._C, "_current_autograd_node", None)


def node_metadata(node: Any) -> dict[str, Any] | None:
    """The per-node ``metadata`` dict of an autograd node (torch >= 2.0), or ``None``."""
    try:
        metadata = node.metadata
    except (AttributeError, RuntimeError):  # pragma: no cover - old torch or a dead node
        return None
    return metadata if isinstance(metadata, dict) else None


def op_is_view(func: Any) -> bool:
    """Whether an operator only makes views of its input (``Tensor(a) -> Tensor(a)``)."""
    schema = getattr(func, "_schema", None)
    if schema is None or not schema.returns:  # pragma: no cover - every OpOverload has one
        return False
    return all(r.alias_info is not None and not r.alias_info.is_write for r in schema.returns)


def op_mutated_args(func: Any) -> tuple[tuple[int, str, bool], ...]:
    """``(position, name, kwarg_only)`` of each argument an operator writes to (``Tensor(a!)``)."""
    schema = getattr(func, "_schema", None)
    if schema is None:  # pragma: no cover - every OpOverload has one
        return ()
    return tuple(
        (i, str(arg.name), bool(arg.kwarg_only))
        for i, arg in enumerate(schema.arguments)
        if arg.alias_info is not None and arg.alias_info.is_write
    )


# --- compare: dtype names, bit views for ULP maths ---------------------------------------


# --- distributed: backends on offer, process group, DistributedDataParallel -------------
# torch.distributed may be missing from a build (``is_available()`` false); the backend
# checks grew over releases (ucc, xccl), so each is read through fp_read and may be None.

DIST_BACKEND_CHECKS = ("gloo", "nccl", "mpi", "ucc", "xccl")


def dist_capabilities() -> dict[str, Any]:
    """Whether torch.distributed is built in, which backends it offers, the NCCL version.

    The NCCL version is asked only where CUDA is usable: on a CPU-only machine the question
    has no answer that could move a number, and asking would load CUDA libraries.
    """
    available = fp_read("distributed.is_available") is True
    backends: dict[str, bool | None] = {}
    for name in DIST_BACKEND_CHECKS:
        value = fp_read(f"distributed.is_{name}_available") if available else False
        backends[name] = value if isinstance(value, bool) else None
    nccl_version = None
    if backends.get("nccl") and fp_cuda_available():
        nccl = fp_read("cuda.nccl.version")
        if isinstance(nccl, tuple):
            nccl = ".".join(str(part) for part in nccl)
        nccl_version = str(nccl) if nccl is not None else None
    return {"available": available, "backends": backends, "nccl_version": nccl_version}


def ddp_wrap(model: Any, *, bucket_cap_mb: float, device_ids: list[int] | None) -> Any:
    """Wrap ``model`` in DistributedDataParallel with reprocheck's fixed settings.

    Every option that changes which gradients are reduced together, or when, is pinned:
    ``bucket_cap_mb`` from the run, no unused-parameter search, gradients not viewed as
    bucket slices. Buffers are broadcast from rank 0 before each forward: DDP's default,
    left implicit because torch 2.13 renamed the option (``forward_sync_buffers``).
    """
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(
        model,
        device_ids=device_ids,
        bucket_cap_mb=bucket_cap_mb,
        find_unused_parameters=False,
        gradient_as_bucket_view=False,
    )
