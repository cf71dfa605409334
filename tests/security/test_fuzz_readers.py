"""Fuzzing the readers with hypothesis: only ReprocheckError may escape, never a crash.

Targets: the run artifact (run.json and record.json mutated as JSON and as bytes, read by
``load_run`` and then compared against a sound baseline), safetensors bytes (headers built
near the valid layout, read through ``TensorReader``), fingerprint files (read and diffed),
the tolerance policy parser (tables and TOML text) and the lockfile reader. Each runs 500
derandomized examples, so the suite is deterministic and bounded.
"""

from __future__ import annotations

import contextlib
import copy
import json
import shutil
import struct
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from compare_support import fingerprint, make_run, write_fingerprint, write_run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reprocheck.artifacts.runs import load_run
from reprocheck.artifacts.tensorreader import TensorReader
from reprocheck.comparison import compare
from reprocheck.comparison.policy import Policy, load_policy
from reprocheck.errors import ReprocheckError
from reprocheck.model.records import TensorInfo
from reprocheck.pinned.lock import verify_environment
from reprocheck.pinned.lockfile import read_lockfile

EXAMPLES = 500
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["", "nan", "inf", "-inf", "mlp", "float32", "cpu", "../x", "\udcff"])
    | st.text(max_size=12)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def sound(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sound baseline run, a candidate copy, and a fingerprint file."""
    root = tmp_path_factory.mktemp("fuzz")
    records, tensors = make_run("mlp", steps=2)
    write_run(root / "base", records, tensors)
    write_run(root / "cand", records, tensors)
    write_fingerprint(root / "fp.json", fingerprint())
    return root


@pytest.fixture
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="rc-fuzz-") as tmp:
        yield Path(tmp)


def _mutate(data: Any, draw: Callable[..., Any]) -> Any:
    """Replace, delete or add one node somewhere in a JSON value."""
    if not isinstance(data, (dict, list)) or not data or draw(st.integers(0, 4)) == 0:
        return draw(json_values)
    if isinstance(data, dict):
        key = draw(st.sampled_from(sorted(data)))
        action = draw(st.sampled_from(["descend", "delete", "add"]))
        if action == "delete":
            data.pop(key)
        elif action == "add":
            data[draw(st.text(max_size=8))] = draw(json_values)
        else:
            data[key] = _mutate(data[key], draw)
        return data
    index = draw(st.integers(0, len(data) - 1))
    data[index] = _mutate(data[index], draw)
    return data


def _mutate_bytes(raw: bytes, draw: Callable[..., Any]) -> bytes:
    out = bytearray(raw)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(out) - 1))
        out[at] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        out = out[: draw(st.integers(0, len(out)))]
    return bytes(out)


def _read_and_compare(base: Path, cand: Path) -> None:
    try:
        run = load_run(cand)
        for name in run.records:
            with run.open_tensors(name) as reader:
                keys = reader.keys()
                for key in keys:
                    reader.get(key)
        compare(base, cand)
    except ReprocheckError:
        pass


@pytest.mark.parametrize("target", ["run.json", "scenarios/mlp/record.json"])
@FUZZ
@given(data=st.data())
def test_run_artifact_reader(target: str, sound: Path, scratch: Path, data: st.DataObject) -> None:
    """A mutated run.json or record.json: load_run and compare raise ReprocheckError or work."""
    cand = scratch / "cand"
    if not cand.exists():
        shutil.copytree(sound / "cand", cand)
    path = cand / target
    pristine = (sound / "cand" / target).read_bytes()
    if data.draw(st.booleans()):
        mutated = _mutate(copy.deepcopy(json.loads(pristine)), data.draw)
        path.write_text(json.dumps(mutated), encoding="utf-8")
    else:
        path.write_bytes(_mutate_bytes(pristine, data.draw))
    _read_and_compare(sound / "base", cand)


_DTYPES = ["F32", "F64", "F16", "BF16", "I64", "I32", "U8", "BOOL", "C64", "F99", "", "f32"]


@st.composite
def safetensors_files(draw: Callable[..., Any]) -> tuple[bytes, dict[str, TensorInfo]]:
    """Headers near the valid layout: right or wrong sizes, offsets, dtypes, lengths."""
    header: dict[str, Any] = {}
    offset = 0
    for i in range(draw(st.integers(0, 3))):
        dtype = draw(st.sampled_from(_DTYPES))
        shape = draw(st.lists(st.integers(0, 5) | st.integers(-2, 2**40), max_size=3))
        size = {"F64": 8, "I64": 8, "C64": 8, "F32": 4, "I32": 4, "F16": 2, "BF16": 2}.get(dtype, 1)
        nbytes = size
        for dim in shape:
            nbytes *= max(dim, 0)
        nbytes = draw(st.sampled_from([nbytes, nbytes + 1, max(nbytes - 1, 0), 2**40]))
        begin = draw(st.sampled_from([offset, offset + 4, max(offset - 4, 0)]))
        entry: Any = {"dtype": dtype, "shape": shape, "data_offsets": [begin, begin + nbytes]}
        if draw(st.integers(0, 9)) == 0:
            entry = draw(json_values)
        header[f"t{i}"] = entry
        offset = begin + (nbytes if nbytes < 2**20 else 0)
    if draw(st.booleans()):
        header["__metadata__"] = draw(json_values)
    text = json.dumps(header).encode()
    length = draw(st.sampled_from([len(text), len(text) + 3, max(len(text) - 2, 0), 2**40]))
    body = b"\0" * draw(st.sampled_from([offset, offset + 1, max(offset - 1, 0), 0]))
    raw = struct.pack("<Q", length) + text + body
    if draw(st.integers(0, 4)) == 0:
        raw = _mutate_bytes(raw, draw)
    expected = {
        k: TensorInfo("float32", (1,)) for k in draw(st.lists(st.sampled_from(["t0", "t1", "x"])))
    }
    return raw, expected


@FUZZ
@given(case=safetensors_files())
def test_safetensors_reader(scratch: Path, case: tuple[bytes, dict[str, TensorInfo]]) -> None:
    """Lying safetensors bytes: TensorReader raises ReprocheckError or reads what is there."""
    raw, expected = case
    path = scratch / "tensors.safetensors"
    path.write_bytes(raw)
    try:
        reader = TensorReader(path, expected)
        keys = reader.keys()
        for key in keys:
            reader.get(key)
    except ReprocheckError:
        pass


@FUZZ
@given(data=st.data())
def test_fingerprint_reader(sound: Path, scratch: Path, data: st.DataObject) -> None:
    """A mutated fingerprint file: compare raises ReprocheckError or reports a diff."""
    path = scratch / "fp.json"
    pristine = (sound / "fp.json").read_bytes()
    if data.draw(st.booleans()):
        path.write_text(json.dumps(_mutate(json.loads(pristine), data.draw)), encoding="utf-8")
    else:
        path.write_bytes(_mutate_bytes(pristine, data.draw))
    with contextlib.suppress(ReprocheckError):
        compare(sound / "fp.json", path)


policy_values = st.recursive(
    scalars | st.sampled_from(["default", "loose", "bitwise", "float32", "*", "mlp/*"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["rtol", "atol", "match", "float32", "bfloat16", "x"]),
            inner,
            max_size=3,
        )
    ),
    max_leaves=10,
)


@FUZZ
@given(
    table=st.dictionaries(
        st.sampled_from(["preset", "dtypes", "tensor", "metric", "other"]),
        policy_values,
        max_size=4,
    )
)
def test_policy_tables(table: dict[str, Any]) -> None:
    """Any table: Policy.from_dict raises ReprocheckError or builds a usable policy."""
    try:
        policy = Policy.from_dict(table)
    except ReprocheckError:
        return
    policy.tolerance_for("mlp/param/w", "float32")
    policy.tolerance_for_metric("mlp/loss")


_POLICY_TEXT = (
    b'preset = "loose"\n[dtypes.float32]\nrtol = 1e-5\natol = 1e-6\n'
    b'[[tensor]]\nmatch = "mlp/*"\nrtol = 0.0\natol = 0.0\n'
)


@FUZZ
@given(data=st.data())
def test_policy_files(scratch: Path, data: st.DataObject) -> None:
    """Mutated TOML bytes: load_policy raises ReprocheckError or returns a policy."""
    path = scratch / "policy.toml"
    path.write_bytes(_mutate_bytes(_POLICY_TEXT, data.draw))
    with contextlib.suppress(ReprocheckError):
        load_policy(path)


lock_lines = st.one_of(
    st.sampled_from(
        [
            "click==8.1.7 \\",
            "    --hash=sha256:" + "ab" * 32 + " \\",
            "    --hash=sha256:" + "cd" * 32,
            "numpy==2.0 ; python_version < '3.12'",
            "# via -r env.in",
            "-r other.txt",
            "--index-url https://example.org",
            "-e .",
            "torch===2.13.0+cpu",
            "Foo_Bar[extra]==1.0",
            "",
            "\\",
            "x==",
            "==1",
        ]
    ),
    st.text(max_size=30),
)


@FUZZ
@given(lines=st.lists(lock_lines, max_size=8), newline=st.booleans(), raw=st.binary(max_size=40))
def test_lockfile_reader(scratch: Path, lines: list[str], newline: bool, raw: bytes) -> None:
    """Lockfile text from a grammar of plausible lines (plus junk bytes): only ArtifactError."""
    path = scratch / "env.txt"
    text = "\n".join(lines) + ("\n" if newline else "")
    path.write_bytes(text.encode("utf-8", "surrogatepass") + (raw if not newline else b""))
    try:
        read_lockfile(path)
        verify_environment(path, installed={"click": ("click", "8.1.7")})
    except ReprocheckError:
        pass
