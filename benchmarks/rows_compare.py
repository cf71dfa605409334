"""Compare figures (issue 4): two runs holding 1 GiB of float32 tensors each.

Three pairs of synthetic "runs" (4 tensors of 256 MiB in one safetensors file each, plus the
same arrays in an uncompressed .npz): ``same`` (a byte-identical copy), ``sparse`` (1 % of
the elements, spread evenly, moved by a relative 1e-6: a few ULP) and ``dense`` (every
element moved that way). In fresh subprocesses, one torch thread each, median of 3:

* floor: read both files of the identical pair with safetensors + one ``torch.equal`` per
  tensor pair (full read and full pass; see :func:`measure` for why the identical pair);
* ours: the same reading + ``compare_tensors`` per tensor pair, for each pair;
* peer: ``np.load`` of both .npz + ``np.isclose(...).all()`` per array (pytest-regressions).

Peak memory is each worker's VmHWM (peak RSS, torch import included). Goals: ours <= 1.5x
the floor, faster than the peer, peak < 3x the largest tensor + 300 MiB.
``REPROCHECK_BENCH_COMPARE_MIB`` shrinks the total size for a quick check;
``REPROCHECK_BENCH_COMPARE_THREADS`` sets the torch threads (default 1).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _bench import Row

TOTAL_MIB = int(os.environ.get("REPROCHECK_BENCH_COMPARE_MIB", "1024"))
N_TENSORS = 4
REPEATS = int(os.environ.get("REPROCHECK_BENCH_REPEAT", "3"))  # run.py --repeat sets it
PAIRS = ("same", "sparse", "dense")
# One intra-op thread for every worker: on a shared machine OpenMP threads that wait for a
# descheduled sibling make timings swing tenfold. Floor, ours and the peer all run alike.
THREADS = int(os.environ.get("REPROCHECK_BENCH_COMPARE_THREADS", "1"))
RTOL, ATOL = 1.3e-6, 1e-5  # float32 defaults, for ours and the peer alike
HERE = Path(__file__).resolve()


# --- worker side (runs in a fresh interpreter) ---------------------------------------------


def _peak_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _make(folder: Path) -> None:
    import numpy as np
    import torch
    from safetensors.torch import save_file

    numel = TOTAL_MIB * 2**20 // 4 // N_TENSORS
    gen = torch.Generator().manual_seed(0)
    base = {f"layer{i}.weight": torch.randn(numel, generator=gen) for i in range(N_TENSORS)}
    save_file(base, str(folder / "baseline.safetensors"))
    np.savez(folder / "baseline.npz", **{k: v.numpy() for k, v in base.items()})
    shutil.copyfile(folder / "baseline.safetensors", folder / "same.safetensors")
    shutil.copyfile(folder / "baseline.npz", folder / "same.npz")
    for pair, step in (("sparse", 100), ("dense", 1)):
        cand = {}
        for key, tensor in base.items():
            moved = tensor.clone()
            noise = torch.randn(moved[::step].shape, generator=gen)
            moved[::step] *= 1 + 1e-6 * noise
            cand[key] = moved
        save_file(cand, str(folder / f"{pair}.safetensors"))
        np.savez(folder / f"{pair}.npz", **{k: v.numpy() for k, v in cand.items()})
        del cand


def _work(mode: str, folder: Path, pair: str) -> dict[str, float]:
    import torch  # imported before the clock starts, in every mode
    from safetensors import safe_open

    from reprocheck.comparison.numerics import compare_tensors
    from reprocheck.comparison.policy import Tolerance

    tol = Tolerance(RTOL, ATOL)
    start = time.perf_counter()
    verdicts = []
    if mode == "peer":
        import numpy as np

        with np.load(folder / "baseline.npz") as base, np.load(folder / f"{pair}.npz") as cand:
            for key in base.files:
                b, c = base[key], cand[key]
                verdicts.append(bool(np.isclose(c, b, rtol=RTOL, atol=ATOL).all()))
                del b, c
    else:
        with safe_open(str(folder / "baseline.safetensors"), framework="pt") as index:
            keys = list(index.keys())
        for key in keys:
            # One tensor pair at a time, each file opened for it alone: a handle kept open
            # keeps every page it touched resident (mmap), so RSS would grow to both files.
            with safe_open(str(folder / "baseline.safetensors"), framework="pt") as base:
                b = base.get_tensor(key)
            with safe_open(str(folder / f"{pair}.safetensors"), framework="pt") as cand:
                c = cand.get_tensor(key)
            if mode == "floor":
                verdicts.append(bool(torch.equal(b, c)))
            else:
                verdicts.append(compare_tensors(key, b, c, tol).within)
            del b, c
    return {"seconds": time.perf_counter() - start, "peak_mib": _peak_mib(), "ok": all(verdicts)}


# --- driver side ---------------------------------------------------------------------------


def _worker(*args: str) -> dict[str, float]:
    env = {**os.environ, "OMP_NUM_THREADS": str(THREADS)}
    proc = subprocess.run(
        [sys.executable, str(HERE), *args], capture_output=True, text=True, check=False, env=env
    )
    if proc.returncode != 0:
        raise RuntimeError(f"rows_compare worker {args} failed: {proc.stderr.strip()[-400:]}")
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _measure(mode: str, folder: Path, pair: str) -> tuple[float, float]:
    """Median seconds and largest peak RSS (MiB) over REPEATS fresh workers."""
    runs = [_worker("work", mode, str(folder), pair) for _ in range(REPEATS)]
    return statistics.median(r["seconds"] for r in runs), max(r["peak_mib"] for r in runs)


def measure() -> dict[str, tuple[float, float]]:
    """Every figure as ``{name: (seconds, peak MiB)}``; temp files removed after.

    ``floor`` is measured on the identical pair: torch.equal stops at the first difference
    and safetensors maps files lazily, so on a differing pair the literal floor would read
    almost nothing. ``peer`` is measured on the dense pair (np.isclose costs the same on
    any data). ``ours/<pair>`` for each pair.
    """
    folder = Path(tempfile.mkdtemp(prefix="reprocheck-bench-compare-"))
    try:
        _worker("make", str(folder))
        figures = {"floor": _measure("floor", folder, "same")}
        for pair in PAIRS:
            figures[f"ours/{pair}"] = _measure("ours", folder, pair)
        figures["peer"] = _measure("peer", folder, "dense")
        return figures
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def rows() -> list[Row]:
    """Time against the floor and numpy.isclose, and peak memory, for each pair."""
    figures = measure()
    floor, _ = figures["floor"]
    peer, _ = figures["peer"]
    memory_goal = 3 * (TOTAL_MIB / N_TENSORS) + 300
    out: list[Row] = []
    for pair in PAIRS:
        ours, ours_peak = figures[f"ours/{pair}"]
        label = f"compare 2 x {TOTAL_MIB} MiB ({pair})"
        out += [
            Row(label, ours, "s", "read both + full torch.equal pass (floor)", floor,
                "<= 1.5x floor", ours <= 1.5 * floor),
            Row(label, ours, "s", "np.load(.npz) + np.isclose (peer)", peer,
                "faster than peer", ours < peer),
            Row(f"{label} peak RSS", ours_peak, "MiB", "3x largest tensor + 300 MiB",
                memory_goal, "under the reference", ours_peak < memory_goal),
        ]  # fmt: skip
    return out


if __name__ == "__main__":
    if sys.argv[1] == "make":
        _make(Path(sys.argv[2]))
        print("{}")
    elif sys.argv[1] == "work":
        print(json.dumps(_work(sys.argv[2], Path(sys.argv[3]), sys.argv[4])))
    else:  # a standalone run prints every figure, peaks included
        for name, (seconds, peak) in measure().items():
            print(f"{name:12} {seconds:7.3f} s  peak {peak:7.0f} MiB")
