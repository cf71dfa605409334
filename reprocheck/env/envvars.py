"""The environment variables a fingerprint may record: an allow-list, nothing else, ever.

Each name here steers threads, kernel selection, precision or device placement. Anything
not on the list is never read into a fingerprint, so secrets (tokens, keys, passwords) in
the environment cannot leak into an artifact that people exchange.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["ALLOWED_NAMES", "ALLOWED_PREFIXES", "MAX_VALUE_LENGTH", "capture_env", "is_allowed"]

ALLOWED_NAMES: frozenset[str] = frozenset(
    {
        # threads and affinity: OpenMP, Intel OpenMP, MKL, OpenBLAS
        "OMP_NUM_THREADS",
        "OMP_THREAD_LIMIT",
        "OMP_PROC_BIND",
        "OMP_PLACES",
        "OMP_DYNAMIC",
        "GOMP_CPU_AFFINITY",
        "KMP_AFFINITY",
        "KMP_BLOCKTIME",
        "KMP_DETERMINISTIC_REDUCTION",
        "MKL_NUM_THREADS",
        "MKL_DYNAMIC",
        "MKL_THREADING_LAYER",
        "OPENBLAS_NUM_THREADS",
        # CPU kernel selection and reproducibility modes
        "MKL_CBWR",
        "MKL_ENABLE_INSTRUCTIONS",
        "OPENBLAS_CORETYPE",
        "ONEDNN_MAX_CPU_ISA",
        "DNNL_MAX_CPU_ISA",
        "ONEDNN_DEFAULT_FPMATH_MODE",
        "DNNL_DEFAULT_FPMATH_MODE",
        "ATEN_CPU_CAPABILITY",
        # Python
        "PYTHONHASHSEED",
        # CUDA / ROCm placement and kernels
        "CUDA_VISIBLE_DEVICES",
        "CUDA_DEVICE_ORDER",
        "CUDA_LAUNCH_BLOCKING",
        "CUDA_MODULE_LOADING",
        "HIP_VISIBLE_DEVICES",
        "ROCR_VISIBLE_DEVICES",
        "CUBLAS_WORKSPACE_CONFIG",
        "NVIDIA_TF32_OVERRIDE",
        # torch switches that change kernels or precision
        "TORCH_ALLOW_TF32_CUBLAS_OVERRIDE",
        "TORCH_CUDNN_V8_API_ENABLED",
        "TORCH_BLAS_PREFER_CUBLASLT",
        "TORCH_BLAS_PREFER_HIPBLASLT",
        "TORCH_LINALG_PREFER_CUSOLVER",
        "PYTORCH_JIT",
        # allocators (placement, and memory that fill_uninitialized_memory sees)
        "PYTORCH_CUDA_ALLOC_CONF",
        "PYTORCH_HIP_ALLOC_CONF",
        "PYTORCH_ALLOC_CONF",
        "PYTORCH_NO_CUDA_MEMORY_CACHING",
        # reprocheck itself
        "REPROCHECK_LOCKFILE",
    }
)
# NCCL has dozens of tuning variables (algorithms, protocols) that change reduction order;
# gloo's and TensorPipe's choose the transport and interface the ranks reduce over.
ALLOWED_PREFIXES: tuple[str, ...] = ("NCCL_", "GLOO_", "TP_SOCKET_IFNAME")
# A prefix match is still refused when the name suggests a credential.
_DENY_WORDS: tuple[str, ...] = ("TOKEN", "KEY", "SECRET", "PASS", "AUTH", "CRED")
# Configuration is short; a long value is more likely a pasted blob than a setting.
MAX_VALUE_LENGTH = 256


def is_allowed(name: str) -> bool:
    """Whether ``name`` may ever appear in a fingerprint."""
    if any(word in name.upper() for word in _DENY_WORDS):
        return False
    return name in ALLOWED_NAMES or name.startswith(ALLOWED_PREFIXES)


def capture_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The allow-listed variables that are set, sorted by name, values as they are.

    Args:
        environ: the process environment (``os.environ``).

    Returns:
        ``{name: value}`` for allowed names whose value is at most 256 characters.
    """
    return {
        name: environ[name]
        for name in sorted(environ)
        if is_allowed(name) and len(environ[name]) <= MAX_VALUE_LENGTH
    }
