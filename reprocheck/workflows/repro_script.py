"""The text of ``repro.py``, the standalone script ``reprocheck repro`` writes.

The script needs only torch and safetensors (never reprocheck): it reads ``repro.json``
and the tensors beside it, calls the operator, digests the output with the trace's digest
algorithm (a copy of :func:`reprocheck.replay.trace_digest.describe_outputs` for dense
tensors; a test holds the two equal) and compares it with the baseline's. Exit 0 when the
output is the baseline's bit for bit, 1 when not (with the ULP distance), 2 when it cannot
run the call here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["script_text"]

_HEADER = '''#!/usr/bin/env python
"""Reproduce one operator call recorded by reprocheck, in any environment with torch.

Operator: {op}
Module:   {module} (scenario {scenario!r}, step {step}, {phase}, trace index {index})
Baseline: torch {baseline_torch}; output digest {digest}

    python repro.py        # needs torch and safetensors only

Exit 0: this environment gives the baseline's output bit for bit. Exit 1: it does not
(the largest ULP distance and the number of differing elements are printed). Exit 2: the
call cannot run here.
"""
'''

_BODY = r'''
import ctypes
import hashlib
import json
import struct
import sys
import zlib
from pathlib import Path

import torch
from safetensors.torch import load_file

HERE = Path(__file__).resolve().parent
EXACT_BYTES = 64 * 1024  # the trace digests larger floating outputs through a subset
SUBSET_ELEMENTS = 16 * 1024
INT_OF = {torch.float64: torch.int64, torch.float32: torch.int32,
          torch.float16: torch.int16, torch.bfloat16: torch.int16}


def decode(value, inputs, device):
    if isinstance(value, list):
        return [decode(v, inputs, device) for v in value]
    if not isinstance(value, dict):
        return value
    if "tensor" in value:
        span = inputs[value["tensor"]].to(device).clone()
        return torch.as_strided(span, value["shape"], value["stride"], 0)
    if "float" in value:
        return float(value["float"])
    if "device" in value:
        return torch.device(device if value["device"].startswith("cuda") else value["device"])
    key, name = next(iter(value.items()))
    return getattr(torch, name)


def operator(name):
    namespace, op, overload = name.split(".")
    return getattr(getattr(getattr(torch.ops, namespace), op), overload)


def tensors_of(value):
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in tensors_of(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in tensors_of(v)]
    return []


def crc(flat):
    flat = flat.cpu()
    view = (ctypes.c_char * (flat.numel() * flat.element_size())).from_address(flat.data_ptr())
    return b"%08x" % zlib.crc32(memoryview(view))


def digest(tensors, out, contents):
    """The trace's output digest (dense tensors), as reprocheck computes it."""
    h = hashlib.blake2b(digest_size=16)
    if not tensors:
        plain = out is None or isinstance(out, (bool, int, float, complex, str))
        h.update(f"value|{out!r}".encode() if plain else f"object|{type(out).__name__}".encode())
    for t in tensors:
        h.update(f"{t.dtype}|{tuple(t.shape)}|".encode())
        if not contents or t.layout != torch.strided or t.device.type == "meta":
            continue
        flat = t.detach().reshape(-1)
        n = flat.numel()
        if n == 0:
            continue
        if flat.is_floating_point() and n * flat.element_size() > EXACT_BYTES:
            low, high = torch.aminmax(flat)
            h.update(struct.pack("<2d", float(low) + 0.0, float(high) + 0.0))
            flat = flat[:: -(-n // SUBSET_ELEMENTS)].contiguous()
        h.update(crc(flat))
    return h.hexdigest()


def ordered(t):
    """Float bits as integers whose difference is the distance in ULP."""
    bits = INT_OF[t.dtype]
    i = t.contiguous().view(bits).to(torch.int64)
    mask = (1 << (torch.iinfo(bits).bits - 1)) - 1
    return torch.where(i < 0, -(i & mask), i)


def distance(got, want):
    """(differing elements, elements, largest ULP distance or None)."""
    got, want = got.detach().cpu().reshape(-1), want.reshape(-1)
    if got.dtype != want.dtype or got.shape != want.shape:
        return want.numel(), want.numel(), None
    if got.dtype in INT_OF:
        differ = ordered(got) != ordered(want)
        ulp = (ordered(got) - ordered(want)).abs().max() if got.numel() else torch.tensor(0)
        return int(differ.sum()), got.numel(), int(ulp)
    return int((got != want).sum()), got.numel(), None


def environment():
    capability = getattr(getattr(torch.backends, "cpu", None), "get_cpu_capability", None)
    level = capability() if capability else "?"
    return f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU level {level}"


def main():
    meta = json.loads((HERE / "repro.json").read_text(encoding="utf-8"))
    device = "cuda" if meta["device"] == "cuda" and torch.cuda.is_available() else "cpu"
    inputs = load_file(str(HERE / "inputs.safetensors"))
    args = decode(meta["call"]["args"], inputs, device)
    kwargs = {k: decode(v, inputs, device) for k, v in meta["call"]["kwargs"].items()}
    # A random operator draws what the baseline drew: the generators as they were then.
    if "rng_cpu" in inputs:
        torch.set_rng_state(inputs["rng_cpu"])
    if "rng_cuda" in inputs and device == "cuda":
        torch.cuda.set_rng_state(inputs["rng_cuda"])
    try:
        out = operator(meta["op"])(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - any failure of the call is the answer
        print(f"cannot run {meta['op']} here ({environment()}): {exc}")
        return 2
    got = tensors_of(out)
    if not got and meta["mutated"]:
        got = [args[p] if not kw and p < len(args) else kwargs[n] for p, n, kw in meta["mutated"]]
    here = digest(got, out, meta["contents"])
    print(f"{meta['op']} in {meta['module'] or '(no module)'}, here: {environment()}")
    expected_file = HERE / "expected.safetensors"
    if not expected_file.exists():
        if here == meta["digest"]:
            print("reproduces the baseline's output (digest " + here + ")")
            return 0
        print(f"does not reproduce the baseline's output: digest {here}, baseline "
              f"{meta['digest']} (the baseline's output was not captured: ULP unknown)")
        return 1
    expected = load_file(str(expected_file))
    worst, differ, total = 0, 0, 0
    for i, t in enumerate(got):
        d, n, ulp = distance(t, expected[f"o{i}"])
        differ, total = differ + d, total + n
        worst = max(worst, ulp if ulp is not None else 0)
    if differ == 0 and len(got) == len(expected):
        print("reproduces the baseline's output bit for bit (digest " + here + ")")
        return 0
    print(f"does not reproduce the baseline's output: max ULP distance {worst}, "
          f"{differ} of {total} elements differ")
    return 1


if __name__ == "__main__":
    sys.exit(main())
'''


def script_text(meta: Mapping[str, Any]) -> str:
    """``repro.py`` for the call described by ``meta`` (``repro.json``'s content)."""
    header = _HEADER.format(
        op=meta["op"],
        module=meta["module"] or "(no module)",
        scenario=meta["scenario"],
        step=meta["step"],
        phase=meta["phase"],
        index=meta["index"],
        baseline_torch=meta["baseline_torch"],
        digest=meta["digest"],
    )
    return header + _BODY
