"""Environment diff: deepdiff reduced to dotted paths, ranked by how likely they move numbers."""

from __future__ import annotations

from typing import Any

from compare_support import fingerprint
from hypothesis import given, settings
from hypothesis import strategies as st

from reprocheck.comparison.envdiff import _differing, diff_fingerprints, rank_of, suspect_phrase


def test_equal_fingerprints_have_no_changes() -> None:
    """Capture time, digest and interpreter path are not changes."""
    a = fingerprint()
    b = fingerprint(captured_at="x", digest="y", python__executable="/other/python")
    b["torch"]["config_raw"] = "other raw text"
    assert diff_fingerprints(a, b) == []


def test_changes_are_ranked_torch_first_then_numerics_then_rest() -> None:
    """torch before BLAS, threads, numpy, then other packages, regardless of input order."""
    a = fingerprint()
    b = fingerprint(
        packages__click="8.2.0",
        packages__numpy="2.2.0",
        threads__intra_op=1,
        torch__config={"blas": "openblas"},
        torch__version="2.1.2",
    )
    paths = [c.path for c in diff_fingerprints(a, b)]
    assert paths == [
        "torch.version",
        "torch.config.blas",
        "threads.intra_op",
        "packages.numpy",
        "packages.click",
    ]


def test_added_and_removed_fields_have_none_on_the_missing_side() -> None:
    """A package installed only in the candidate reads baseline None, and vice versa."""
    a = fingerprint()
    b = fingerprint(packages__scipy="1.14.0")
    del b["packages"]["click"]
    changes = {c.path: (c.baseline, c.candidate) for c in diff_fingerprints(a, b)}
    assert changes == {"packages.scipy": (None, "1.14.0"), "packages.click": ("8.1.7", None)}


def test_cpu_flags_report_what_each_side_only_has() -> None:
    """cpu.flags: the flags only the baseline has, and only the candidate has."""
    a = fingerprint()
    b = fingerprint(cpu__flags=["fma", "avx512f"])
    (change,) = diff_fingerprints(a, b)
    assert (change.path, change.baseline, change.candidate) == ("cpu.flags", ["avx2"], ["avx512f"])


def test_reordered_cpu_flags_are_no_change() -> None:
    """The same flags in another order are the same CPU."""
    assert diff_fingerprints(fingerprint(), fingerprint(cpu__flags=["fma", "avx2"])) == []


def test_thread_environment_variables_rank_with_threads() -> None:
    """OMP_NUM_THREADS ranks as a thread setting, above package versions."""
    assert rank_of("env.OMP_NUM_THREADS")[1] == "threads"
    assert rank_of("env.OMP_NUM_THREADS")[0] < rank_of("packages.numpy")[0]


def test_suspect_phrase_names_torch_change() -> None:
    """The verdict line names the torch version change once, with an arrow."""
    changes = diff_fingerprints(
        fingerprint(), fingerprint(torch__version="2.1.2", packages__torch="2.1.2")
    )
    assert suspect_phrase(changes) == "torch 2.13.0 → 2.1.2"


def test_hardware_of_another_machine_is_ranked_among_the_suspects() -> None:
    """CPU model, ISA flags, GPU and driver all come before the packages and are suspects."""
    from reprocheck.comparison.envdiff import is_hardware, is_suspect

    base = {
        "cpu": {"model": "AMD EPYC 7B13", "flags": ["avx2"]},
        "cuda": {"devices": [], "driver_version": None},
        "packages": {"requests": "2.0"},
    }
    cand = {
        "cpu": {"model": "Intel(R) Xeon(R) Platinum 8480+", "flags": ["avx2", "avx512f"]},
        "cuda": {"devices": [{"name": "NVIDIA H100"}], "driver_version": "580.65.06"},
        "packages": {"requests": "2.1"},
    }
    changes = diff_fingerprints(base, cand)
    paths = [c.path for c in changes]
    assert paths[-1] == "packages.requests"
    hardware = {"cpu.model", "cpu.flags", "cuda.devices", "cuda.driver_version"}
    assert set(paths[:-1]) == hardware
    assert all(is_suspect(c) and is_hardware(c.path) for c in changes[:-1])
    assert not is_hardware("packages.requests")


_LEAF = st.one_of(st.integers(-3, 3), st.sampled_from(["a", "b"]), st.lists(st.sampled_from("xy")))
_TREE = st.recursive(
    _LEAF, lambda sub: st.dictionaries(st.sampled_from("pqrs"), sub, max_size=3), max_leaves=12
)


@settings(max_examples=300, deadline=None)
@given(
    b=st.dictionaries(st.sampled_from("pqrs"), _TREE, max_size=4),
    c=st.dictionaries(st.sampled_from("pqrs"), _TREE, max_size=4),
)
def test_pruning_shared_entries_leaves_what_deepdiff_reports_unchanged(
    b: dict[str, Any], c: dict[str, Any]
) -> None:
    """DeepDiff over the pruned pair reports the same changes, at the same paths."""
    from deepdiff import DeepDiff

    def report(x: dict[str, Any], y: dict[str, Any]) -> list[tuple[str, str, Any, Any]]:
        tree = DeepDiff(x, y, view="tree", threshold_to_diff_deeper=0)
        return sorted(
            (kind, level.path(), repr(level.t1), repr(level.t2))
            for kind, levels in tree.items()
            for level in levels
        )

    assert report(*_differing(b, c)) == report(b, c)
