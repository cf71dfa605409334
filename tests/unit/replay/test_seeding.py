"""seeded(): one seed for every RNG, deterministic mode inside, the caller's state after."""

from __future__ import annotations

import os
import random

import numpy
import pytest
import torch

from reprocheck._compat import torch as compat
from reprocheck.errors import InputError
from reprocheck.replay.seeding import CUBLAS_ENV, seeded


def _draws() -> tuple[float, float, float]:
    return random.random(), float(numpy.random.rand()), float(torch.rand(1))


def test_same_seed_gives_same_streams() -> None:
    """Python, numpy, torch and the context's generator repeat under the same seed."""
    with seeded(7) as gen:
        first = (*_draws(), float(torch.rand(1, generator=gen)))
    with seeded(7) as gen:
        second = (*_draws(), float(torch.rand(1, generator=gen)))
    assert first == second


def test_different_seeds_give_different_streams() -> None:
    """Another seed moves every stream."""
    with seeded(1):
        first = _draws()
    with seeded(2):
        second = _draws()
    assert all(a != b for a, b in zip(first, second, strict=True))


def test_generator_is_cpu_and_seeded() -> None:
    """The yielded generator lives on the CPU and starts from the seed."""
    with seeded(11) as gen:
        assert gen.device.type == "cpu"
        assert gen.initial_seed() == 11


def test_deterministic_mode_inside() -> None:
    """Inside the block: deterministic algorithms, no cuDNN autotune, no TF32."""
    with seeded(0):
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.backends.cudnn.deterministic
        assert not torch.backends.cudnn.benchmark
        assert not torch.backends.cuda.matmul.allow_tf32
        assert not torch.backends.cudnn.allow_tf32
        assert torch.get_float32_matmul_precision() == "highest"


def _caller_state() -> dict[str, object]:
    return {
        "python": random.getstate(),
        "numpy": numpy.random.get_state()[1].tolist(),
        "torch": torch.get_rng_state().tolist(),
        "numeric": compat.numeric_mode_state(),
        "env": os.environ.get(CUBLAS_ENV),
        "dtype": torch.get_default_dtype(),
        "threads": torch.get_num_threads(),
    }


@pytest.fixture
def unusual_state() -> object:
    """Put the process in a state unlike the engine's, and restore the defaults after."""
    before = compat.numeric_mode_state()
    random.seed(123)
    numpy.random.seed(456)
    torch.manual_seed(789)
    torch.use_deterministic_algorithms(False)
    torch.backends.cudnn.benchmark = True
    torch.set_float32_matmul_precision("medium")
    yield
    compat.restore_numeric_mode(before)


@pytest.mark.usefixtures("unusual_state")
def test_caller_state_restored_after_normal_exit(monkeypatch: pytest.MonkeyPatch) -> None:
    """RNG states, flags, env var, default dtype and threads are as before the block."""
    monkeypatch.setenv(CUBLAS_ENV, ":16:8")
    before = _caller_state()
    with seeded(3, default_dtype=torch.float64):
        assert torch.get_default_dtype() == torch.float64
        _draws()
    assert _caller_state() == before


@pytest.mark.usefixtures("unusual_state")
def test_caller_state_restored_after_an_error() -> None:
    """An exception inside the block still restores everything."""
    before = _caller_state()

    def fails_inside() -> None:
        with seeded(3, default_dtype=torch.float64):
            _draws()
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fails_inside()
    assert _caller_state() == before


def test_default_dtype_untouched_unless_asked() -> None:
    """Without default_dtype the caller's default dtype stays in force inside."""
    with seeded(0):
        assert torch.get_default_dtype() == torch.float32


def test_negative_seed_is_an_input_error() -> None:
    """A seed torch cannot take is refused before anything changes."""
    with pytest.raises(InputError, match="seed -1 is out of range"), seeded(-1):
        pass


def test_unknown_device_is_an_input_error() -> None:
    """Only cpu and cuda are devices."""
    with (
        pytest.raises(InputError, match="device must be 'cpu' or 'cuda', got 'tpu'"),
        seeded(0, device="tpu"),
    ):
        pass


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error where no GPU is")
def test_cuda_without_gpu_is_an_input_error() -> None:
    """Asking for CUDA where torch sees none is an input error with a hint."""
    with pytest.raises(InputError, match="no CUDA GPU") as info, seeded(0, device="cuda"):
        pass
    assert info.value.hint


@pytest.mark.cuda
def test_cuda_streams_repeat_and_are_restored() -> None:
    """On a GPU the CUDA generators are seeded too, and restored afterwards."""
    before = torch.cuda.get_rng_state_all()
    with seeded(5, device="cuda"):
        first = torch.rand(4, device="cuda").cpu()
    with seeded(5, device="cuda"):
        second = torch.rand(4, device="cuda").cpu()
    assert torch.equal(first, second)
    after = torch.cuda.get_rng_state_all()
    assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True))
