"""CPU model and numerics-relevant ISA flags, parsed from /proc/cpuinfo text."""

from __future__ import annotations

import sys

import pytest

from reprocheck.env.cpu import NUMERIC_FLAGS, capture_cpu, parse_cpuinfo

X86 = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz
flags\t\t: fpu vme sse sse2 ssse3 fma avx f16c avx2 avx512f avx512dq avx512cd avx512bw \
avx512vl avx512_vnni sha_ni

processor\t: 1
model name\t: Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz
flags\t\t: fpu
"""

ARM = """processor\t: 0
BogoMIPS\t: 243.75
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimddp sve \
sve2 bf16 i8mm
CPU implementer\t: 0x41
CPU architecture: 8
CPU part\t: 0xd4f
"""


def test_x86_model_and_flags() -> None:
    """x86: the model name, and only the flags that change numerics, sorted."""
    model, flags = parse_cpuinfo(X86)
    assert model == "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz"
    assert flags == sorted(
        [
            "avx",
            "avx2",
            "avx512bw",
            "avx512cd",
            "avx512dq",
            "avx512f",
            "avx512vl",
            "avx512_vnni",
            "f16c",
            "fma",
        ]
    )


def test_flags_come_from_the_first_processor() -> None:
    """The first processor's line counts (later ones repeat it on real machines)."""
    _, flags = parse_cpuinfo(X86)
    assert "avx2" in flags


def test_arm_features_and_model_from_part_codes() -> None:
    """ARM: Features give asimd/sve/sve2..., and implementer/part codes stand in for a name."""
    model, flags = parse_cpuinfo(ARM)
    assert model == "implementer 0x41 part 0xd4f"
    assert {"asimd", "sve", "sve2", "bf16", "i8mm", "asimddp"} <= set(flags)
    assert "aes" not in flags


def test_empty_text_gives_nothing() -> None:
    """Unreadable or empty cpuinfo yields no model and no flags, not an error."""
    assert parse_cpuinfo("") == (None, [])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/cpuinfo")
def test_capture_on_this_machine_reports_known_flags_only() -> None:
    """The live capture reports a subset of the known flags and the env override."""
    section = capture_cpu("AVX2", {"ATEN_CPU_CAPABILITY": "avx2"})
    assert set(section["flags"]) <= NUMERIC_FLAGS
    assert section["capability"] == "AVX2"
    assert section["aten_cpu_capability_env"] == "avx2"
    assert isinstance(section["cores"], int)
