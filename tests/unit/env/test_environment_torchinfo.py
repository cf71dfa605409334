"""Parsing torch's build and parallel reports, and the sections read from the live torch."""

from __future__ import annotations

import pytest
import torch

from reprocheck.env.torchinfo import (
    capture_cuda,
    capture_determinism,
    capture_threads,
    capture_torch,
    parse_build_settings,
    parse_config,
    parse_parallel_info,
)

# The shape of a CUDA build's report from the torch 2.1 era (lines as that release printed).
OLD_CUDA_CONFIG = """PyTorch built with:
  - GCC 9.3
  - C++ Version: 201703
  - Intel(R) oneAPI Math Kernel Library Version 2022.2-Product Build 20220804 for Intel(R) 64 \
architecture applications
  - Intel(R) MKL-DNN v3.1.1 (Git Hash 64f6bcbcbab628e96f33a62c3e975f8535a7bde4)
  - OpenMP 201511 (a.k.a. OpenMP 4.5)
  - LAPACK is enabled (usually provided by MKL)
  - NNPACK is enabled
  - CPU capability usage: AVX2
  - CUDA Runtime 12.1
  - NVCC architecture flags: -gencode;arch=compute_50,code=sm_50
  - CuDNN 8.9.2
  - Magma 2.6.1
  - Build settings: BLAS_INFO=mkl, BUILD_TYPE=Release, CUDA_VERSION=12.1, \
CXX_FLAGS= -D_GLIBCXX_USE_CXX11_ABI=0 -fabi-version=11, LAPACK_INFO=mkl, USE_CUDA=ON, \
USE_CUDNN=ON, USE_MKLDNN=ON, USE_OPENMP=ON, USE_ROCM=OFF, TORCH_VERSION=2.1.0,
"""

PARALLEL = """ATen/Parallel:
\tat::get_num_threads() : 4
\tat::get_num_interop_threads() : 4
OpenMP 201511 (a.k.a. OpenMP 4.5)
\tomp_get_max_threads() : 4
Intel(R) oneAPI Math Kernel Library Version 2024.2-Product Build 20240605
\tmkl_get_max_threads() : 3
ATen parallel backend: OpenMP
"""


def test_build_settings_values_may_contain_commas_and_spaces() -> None:
    """Each value runs up to the next `, KEY=`, so compiler flags stay whole."""
    settings = parse_build_settings("A=1, CXX_FLAGS= -O2 -Wall, B=x,y, C=OFF, ")
    assert settings == {"A": "1", "CXX_FLAGS": "-O2 -Wall", "B": "x,y", "C": "OFF"}


def test_old_cuda_build_report_is_parsed() -> None:
    """A torch 2.1 CUDA build's report yields BLAS, MKL, oneDNN, CUDA, cuDNN and switches."""
    config = parse_config(OLD_CUDA_CONFIG)
    assert config["blas"] == "mkl"
    assert config["lapack"] == "mkl"
    assert config["mkl"] == "2022.2-Product Build 20220804"
    assert config["onednn"] == "3.1.1"
    assert config["onednn_git_hash"] == "64f6bcbcbab628e96f33a62c3e975f8535a7bde4"
    assert config["openmp"] == "201511 (a.k.a. OpenMP 4.5)"
    assert config["compiler"] == "GCC 9.3"
    assert config["cpu_capability_usage"] == "AVX2"
    assert config["cuda_runtime"] == "12.1"
    assert config["cudnn"] == "8.9.2"
    assert config["magma"] == "2.6.1"
    assert config["use_cuda"] is True
    assert config["use_rocm"] is False
    assert config["build_settings"]["CXX_FLAGS"] == "-D_GLIBCXX_USE_CXX11_ABI=0 -fabi-version=11"


def test_missing_lines_read_as_null() -> None:
    """A report without a field (an older or unusual build) gives None for it, not an error."""
    config = parse_config("PyTorch built with:\n  - C++ Version: 201703\n")
    assert config["blas"] is None
    assert config["mkl"] is None
    assert config["use_cuda"] is None
    assert config["lapack"] is None


def test_parallel_info_counts_and_backend() -> None:
    """OpenMP and MKL maxima and the ATen backend come from parallel_info()."""
    assert parse_parallel_info(PARALLEL) == {"omp_max": 4, "mkl_max": 3, "backend": "OpenMP"}


def test_parallel_info_without_mkl_reads_null() -> None:
    """A build without MKL has no mkl_get_max_threads line: mkl_max is None."""
    text = PARALLEL.replace("\tmkl_get_max_threads() : 3\n", "")
    assert parse_parallel_info(text)["mkl_max"] is None


def test_live_torch_section_matches_torch() -> None:
    """The torch section reports the running torch and keeps the raw reports."""
    section = capture_torch()
    assert section["version"] == str(torch.__version__)
    assert section["git_version"] == torch.version.git_version
    assert section["config_raw"] == torch.__config__.show()
    assert section["config"]["cpu_capability_usage"] is not None


def test_live_threads_match_torch() -> None:
    """intra_op/inter_op are torch's own counts in this process."""
    threads = capture_threads(torch.__config__.parallel_info())
    assert threads["intra_op"] == torch.get_num_threads()
    assert threads["inter_op"] == torch.get_num_interop_threads()


def test_live_threads_follow_set_num_threads() -> None:
    """Changing the thread count in-process shows in the next capture."""
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert capture_threads(torch.__config__.parallel_info())["intra_op"] == 1
    finally:
        torch.set_num_threads(before)


def test_live_determinism_follows_matmul_precision() -> None:
    """float32_matmul_precision is read live, not from defaults."""
    before = torch.get_float32_matmul_precision()
    try:
        torch.set_float32_matmul_precision("medium")
        assert capture_determinism()["float32_matmul_precision"] == "medium"
    finally:
        torch.set_float32_matmul_precision(before)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_cpu_build_reports_no_cuda_without_error() -> None:
    """Without a usable GPU every CUDA field is null and devices is empty."""
    section = capture_cuda(torch.version.cuda, None)
    assert section["available"] is False
    assert section["devices"] == []
    assert section["runtime_version"] is None
    assert section["cudnn"] is None


def test_cuda_versions_fall_back_to_build_settings() -> None:
    """Before CUDA is initialised the report lacks the CUDA Runtime/CuDNN lines (torch 2.1
    on a machine without a GPU): the versions come from CUDA_VERSION/CUDNN_VERSION."""
    text = (
        "PyTorch built with:\n  - GCC 9.3\n"
        "  - Build settings: BLAS_INFO=mkl, CUDA_VERSION=12.1, CUDNN_VERSION=8.9.2, USE_CUDA=ON, \n"
    )
    config = parse_config(text)
    assert config["cuda_runtime"] == "12.1"
    assert config["cudnn"] == "8.9.2"
