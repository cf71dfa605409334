"""Bad run artifacts for `compare` (and `check`): run.json, record.json, tensors.safetensors.

Each function below adds its cases to a :class:`~badinput_harness.Table`. The candidate run
is the one broken; the baseline stays sound.
"""

from __future__ import annotations

import os
import random
import shutil
from typing import Any

import torch
from badinput_harness import Table, Workspace, edit_header, join_safetensors, split_safetensors
from badinput_harness import tensor_names as names_of
from compare_support import make_run, write_run

# Offsets into a file at which to cut it: just after the start, early, the middle, the end.
CUTS = (1, 9, 0.5, -2)


def _cut(raw: bytes, at: float) -> bytes:
    where = int(len(raw) * at) if isinstance(at, float) else (at if at > 0 else len(raw) + at)
    return raw[:where]


def structural_positions(text: bytes) -> list[int]:
    """Offsets of JSON's structural bytes: quotes, and brackets, colons, commas outside strings.

    Flipping any bit of one of these always makes the JSON invalid (or not UTF-8), so a
    seeded flip there is a bad input whatever the seed picks; a flip inside a string or a
    number may still parse, and is the random sweep's business, not the corpus's.
    """
    positions, inside, escaped = [], False, False
    for i, byte in enumerate(text):
        if inside:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                inside = False
                positions.append(i)
        elif byte == 0x22:
            inside = True
            positions.append(i)
        elif byte in b"{}[]:,":
            positions.append(i)
    return positions


def flip_structural(raw: bytes, seed: int, *, start: int = 0, end: int | None = None) -> bytes:
    """Flip one seeded bit of a seeded structural byte of the JSON in ``raw[start:end]``."""
    rng = random.Random(seed)
    at = start + rng.choice(structural_positions(raw[start:end]))
    out = bytearray(raw)
    out[at] ^= 1 << rng.randrange(8)
    return bytes(out)


def _json_span(raw: bytes, is_safetensors: bool) -> tuple[int, int | None]:
    if not is_safetensors:
        return 0, None
    return 8, 8 + int.from_bytes(raw[:8], "little")


def _truncate(path_of: Any, at: float) -> Any:
    def make(ws: Workspace) -> list[str]:
        path = path_of(ws)
        path.write_bytes(_cut(path.read_bytes(), at))
        return ws.compare()

    return make


def _flip(path_of: Any, seed: int, *, is_safetensors: bool) -> Any:
    def make(ws: Workspace) -> list[str]:
        path = path_of(ws)
        raw = path.read_bytes()
        start, end = _json_span(raw, is_safetensors)
        path.write_bytes(flip_structural(raw, seed, start=start, end=end))
        return ws.compare()

    return make


def _write(path_of: Any, data: bytes) -> Any:
    def make(ws: Workspace) -> list[str]:
        path_of(ws).write_bytes(data)
        return ws.compare()

    return make


def _json(path_of: Any, change: Any) -> Any:
    def make(ws: Workspace) -> list[str]:
        ws.edit_json(path_of(ws), change)
        return ws.compare()

    return make


def _setitem(key: str, value: Any) -> Any:
    return lambda d: d.__setitem__(key, value)


def _delitem(key: str) -> Any:
    def change(data: dict[str, Any]) -> None:
        del data[key]

    return change


def _replace(path_of: Any, kind: str) -> Any:
    """Replace a file by a directory, a FIFO, a symlink out of the artifact or to /dev/zero."""

    def make(ws: Workspace) -> list[str]:
        path = path_of(ws)
        if kind == "symlink-out":
            ws.move_out(path)
            return ws.compare()
        path.unlink()
        if kind == "directory":
            path.mkdir()
        elif kind == "fifo":
            os.mkfifo(path)
        elif kind == "devzero":
            path.symlink_to("/dev/zero")
        return ws.compare()

    return make


def _sparse(path_of: Any, size: int) -> Any:
    def make(ws: Workspace) -> list[str]:
        os.truncate(path_of(ws), size)
        return ws.compare()

    return make


def common_file_cases(
    table: Table, label: str, path_of: Any, file: str, *, text: bool, missing: tuple[str, ...]
) -> None:
    """missing, empty, truncated at several offsets, seeded bit flips, replaced by odd things."""
    table.error(f"compare/{label}-missing", _replace(path_of, "missing"), *missing)
    table.error(f"compare/{label}-empty", _write(path_of, b""), file)
    for at in CUTS:
        table.error(f"compare/{label}-truncated-at-{at}", _truncate(path_of, at), file)
    for seed in (1, 2, 3):
        flip = _flip(path_of, seed, is_safetensors=not text)
        table.error(f"compare/{label}-bit-flip-seed{seed}", flip, file)
    table.error(f"compare/{label}-directory", _replace(path_of, "directory"), file, "not")
    table.error(f"compare/{label}-fifo", _replace(path_of, "fifo"), file, "not a regular file")
    table.error(
        f"compare/{label}-symlink-out", _replace(path_of, "symlink-out"), file, "symbolic link"
    )
    if text:
        table.error(f"compare/{label}-not-utf8", _write(path_of, b'{"kind": "\xff\xfe"}'), file)
        table.error(
            f"compare/{label}-huge-sparse", _sparse(path_of, 2**31), file, "too large", huge=True
        )


def manifest_cases(table: Table) -> None:
    m = "cand/run.json"
    path = lambda ws: ws.manifest  # noqa: E731 - a table of one-liners reads better
    common_file_cases(
        table, "manifest", path, m, text=True, missing=("cand", "run.json is missing")
    )
    table.error("compare/manifest-top-level-list", _json(path, lambda d: [d]), m, "object")
    table.error("compare/manifest-nan-token", _write(path, b'{"kind": NaN}'), m, "NaN")
    table.error("compare/manifest-deep-nesting", _write(path, b"[" * 100_000 + b"]" * 100_000), m)
    table.error(
        "compare/manifest-schema-newer", _json(path, _setitem("schema_version", 2)), m, "newer"
    )
    table.error(
        "compare/manifest-schema-older", _json(path, _setitem("schema_version", 0)), m, "older"
    )
    table.error(
        "compare/manifest-schema-string",
        _json(path, _setitem("schema_version", "1")),
        m,
        "schema_version",
    )
    table.error("compare/manifest-schema-missing", _json(path, _delitem("schema_version")), m)
    table.error("compare/manifest-kind-wrong", _json(path, _setitem("kind", "x")), m, "kind")
    table.error(
        "compare/manifest-fingerprint-missing",
        _json(path, _delitem("fingerprint")),
        m,
        "fingerprint",
    )
    table.error(
        "compare/manifest-fingerprint-list",
        _json(path, _setitem("fingerprint", [])),
        m,
        "fingerprint",
    )
    table.error(
        "compare/manifest-fingerprint-section-type",
        _json(path, lambda d: d["fingerprint"].__setitem__("torch", "2.13")),
        m,
        "'torch'",
    )
    table.error(
        "compare/manifest-fingerprint-package-type",
        _json(path, lambda d: d["fingerprint"]["packages"].__setitem__("torch", 2)),
        m,
        "packages",
    )
    table.error(
        "compare/manifest-scenarios-missing", _json(path, _delitem("scenarios")), m, "scenarios"
    )
    table.error(
        "compare/manifest-scenarios-object",
        _json(path, _setitem("scenarios", {})),
        m,
        "scenarios",
    )
    table.error(
        "compare/manifest-scenario-entry-string",
        _json(path, _setitem("scenarios", ["mlp"])),
        m,
        "scenarios[0]",
    )
    for label, sub in (("dotdot", "../../outside"), ("absolute", "/etc"), ("dot", ".")):
        table.error(
            f"compare/manifest-dir-{label}",
            _json(path, lambda d, s=sub: d["scenarios"][0].__setitem__("dir", s)),
            m,
            "not a plain name",
        )
    table.error(
        "compare/manifest-scenario-twice",
        _json(path, lambda d: d["scenarios"].append(dict(d["scenarios"][0]))),
        m,
        "twice",
    )
    table.error(
        "compare/manifest-dir-twice",
        _json(path, lambda d: d["scenarios"].append({"name": "other", "dir": "mlp"})),
        m,
        "twice",
    )
    table.error(
        "compare/manifest-lone-surrogate-name",
        _write(path, b'{"kind": "reprocheck-run", "name": "ml\\udcffp"}'),
        m,
        "not valid Unicode",
    )


def record_cases(table: Table) -> None:
    r = "cand/scenarios/mlp/record.json"
    path = lambda ws: ws.record  # noqa: E731
    common_file_cases(table, "record", path, r, text=True, missing=(r, "missing"))
    table.error(
        "compare/record-schema-newer", _json(path, _setitem("schema_version", 99)), r, "newer"
    )
    table.error(
        "compare/record-schema-older", _json(path, _setitem("schema_version", 0)), r, "older"
    )
    table.error("compare/record-kind-missing", _json(path, _delitem("kind")), r, "kind")
    table.error("compare/record-steps-missing", _json(path, _delitem("steps")), r, "'steps'")
    table.error("compare/record-steps-string", _json(path, _setitem("steps", "3")), r, "'steps'")
    table.error("compare/record-config-missing", _json(path, _delitem("config")), r, "'config'")
    table.error(
        "compare/record-config-steps-zero",
        _json(path, lambda d: d["config"].__setitem__("steps", 0)),
        r,
        "'steps'",
    )
    table.error(
        "compare/record-loss-nan-word",
        _json(path, lambda d: d["steps"][0].__setitem__("loss", "NaN")),
        r,
        "'loss'",
    )
    table.error(
        "compare/record-loss-boolean",
        _json(path, lambda d: d["steps"][0].__setitem__("loss", True)),
        r,
        "'loss'",
    )
    table.error(
        "compare/record-loss-huge-integer",
        _json(path, lambda d: d["steps"][0].__setitem__("loss", 10**400)),
        r,
        "out of range",
    )
    table.error(
        "compare/record-shape-negative",
        _json(path, lambda d: d["tensors"]["param/fc.bias"].__setitem__("shape", [-4])),
        r,
        "shape",
    )
    table.error(
        "compare/record-trace-shapes-strings",
        _json(path, lambda d: d["trace"][0].__setitem__("shapes", [["4"]])),
        r,
        "shapes",
    )
    table.error(
        "compare/record-name-mismatch", _json(path, _setitem("name", "other")), r, "'other'"
    )
    table.error(
        "compare/record-steps-fewer-than-config",
        _json(path, lambda d: d["steps"].__delitem__(-1)),
        "cand",
        "records 2 steps",
    )
    table.error(
        "compare/record-lone-surrogate-tensor-name",
        _surrogate_tensor_name,
        r,
        "not valid Unicode",
    )
    t = "cand/scenarios/mlp/tensors.safetensors"
    table.error(
        "compare/record-names-absent-tensor",
        _json(
            path,
            lambda d: d["tensors"].__setitem__("param/ghost", {"dtype": "float32", "shape": [1]}),
        ),
        t,
        "'param/ghost'",
    )
    table.error(
        "compare/record-dtype-disagrees-with-file",
        _json(path, lambda d: d["tensors"]["param/fc.bias"].__setitem__("dtype", "float64")),
        t,
        "float64",
    )
    table.error(
        "compare/record-shape-disagrees-with-file",
        _json(path, lambda d: d["tensors"]["param/fc.bias"].__setitem__("shape", [5])),
        t,
        "[5]",
    )
    table.error(
        "compare/record-huge-shape",
        _json(path, lambda d: d["tensors"]["param/fc.bias"].__setitem__("shape", [2**40, 2**40])),
        t,
        "inconsistent",
        huge=True,
    )

    def symlinked_dir(ws: Workspace) -> list[str]:
        ws.move_out(ws.record.parent)
        return ws.compare()

    def symlinked_scenarios(ws: Workspace) -> list[str]:
        ws.move_out(ws.cand / "scenarios")
        return ws.compare()

    table.error("compare/scenario-dir-symlink-out", symlinked_dir, "cand/scenarios/mlp", "out of")
    table.error("compare/scenarios-symlink-out", symlinked_scenarios, "cand/scenarios", "out of")


def _surrogate_tensor_name(ws: Workspace) -> list[str]:
    text = ws.record.read_text(encoding="utf-8").replace('"param/fc.bias"', '"param/fc\\udcff"')
    ws.record.write_text(text, encoding="utf-8")
    return ws.compare()


def tensor_file_cases(table: Table) -> None:
    t = "cand/scenarios/mlp/tensors.safetensors"
    path = lambda ws: ws.tensors  # noqa: E731
    common_file_cases(table, "tensors", path, t, text=False, missing=(t, "missing"))
    table.error("compare/tensors-devzero", _replace(path, "devzero"), t, "symbolic link")

    def raw_edit(change: Any) -> Any:
        def make(ws: Workspace) -> list[str]:
            header, data = split_safetensors(ws.tensors.read_bytes())
            ws.tensors.write_bytes(change(header, data))
            return ws.compare()

        return make

    def header_edit(change: Any) -> Any:
        def make(ws: Workspace) -> list[str]:
            edit_header(ws.tensors, change)
            return ws.compare()

        return make

    table.error(
        "compare/tensors-header-length-2^40",
        raw_edit(lambda h, d: join_safetensors(h, d, length=2**40)),
        t,
        "limit",
        huge=True,
    )
    table.error(
        "compare/tensors-header-length-past-end",
        raw_edit(lambda h, d: join_safetensors(h, d, length=10**6)),
        t,
        "truncated",
    )
    table.error(
        "compare/tensors-header-length-zero",
        raw_edit(lambda h, d: join_safetensors(h, d, length=0)),
        t,
        "not valid JSON",
    )
    table.error(
        "compare/tensors-header-not-utf8",
        raw_edit(lambda h, d: join_safetensors({}, d)[:8] + b"\xff" * 2 + b"{}"),
        t,
    )
    table.error("compare/tensors-header-list", header_edit(lambda h: [h]), t, "not a JSON object")
    table.error(
        "compare/tensors-header-duplicate-name",
        raw_edit(_duplicate_key),
        t,
        "twice",
    )

    def last(h: dict[str, Any]) -> str:
        return names_of(h)[-1]

    def first(h: dict[str, Any]) -> str:
        return names_of(h)[0]

    table.error(
        "compare/tensors-offsets-past-end",
        header_edit(lambda h: _move(h, last(h), 10**6)),
        t,
        "past the end",
    )
    table.error(
        "compare/tensors-offsets-overlap",
        header_edit(_overlap),
        t,
        "overlap",
    )
    table.error("compare/tensors-offsets-gap", raw_edit(_gap), t, "unclaimed bytes")
    table.error(
        "compare/tensors-trailing-bytes",
        raw_edit(lambda h, d: join_safetensors(h, d + b"\0" * 16)),
        t,
        "after the last tensor",
    )
    table.error(
        "compare/tensors-offsets-backwards",
        header_edit(
            lambda h: h[first(h)].__setitem__("data_offsets", h[first(h)]["data_offsets"][::-1])
        ),
        t,
        "backwards",
    )
    table.error(
        "compare/tensors-dtype-unknown",
        header_edit(lambda h: h[first(h)].__setitem__("dtype", "F99")),
        t,
        "unknown dtype 'F99'",
    )
    table.error(
        "compare/tensors-shape-disagrees-with-span",
        header_edit(lambda h: h[first(h)].__setitem__("shape", [3])),
        t,
        "needs",
    )
    table.error(
        "compare/tensors-shape-huge-dims",
        header_edit(lambda h: h[first(h)].__setitem__("shape", [2**62, 2**62])),
        t,
        "needs",
        huge=True,
    )
    table.error(
        "compare/tensors-claims-2^40-byte-tensor",
        header_edit(lambda h: _claim(h, last(h), 2**40)),
        t,
        "past the end",
        huge=True,
    )
    table.error(
        "compare/tensors-extra-entry-key",
        header_edit(lambda h: h[first(h)].__setitem__("offset", 0)),
        t,
        "exactly",
    )
    table.error(
        "compare/tensors-metadata-not-strings",
        header_edit(lambda h: h.__setitem__("__metadata__", {"a": 1})),
        t,
        "__metadata__",
    )
    table.error(
        "compare/tensors-sparse-1TiB-tensor",
        lambda ws: _sparse_tensor(ws, 2**40),
        t,
        "memory",
        huge=True,
    )
    table.error(
        "compare/tensors-header-length-bit-flip",
        raw_edit(lambda h, d: _flip_length(join_safetensors(h, d))),
        t,
    )


def _duplicate_key(header: dict[str, Any], data: bytes) -> bytes:
    import json
    import struct

    name = names_of(header)[0]
    text = json.dumps(header)
    entry = json.dumps({name: header[name]})[1:-1]
    doubled = ("{" + entry + ", " + text[1:]).encode()
    return struct.pack("<Q", len(doubled)) + doubled + data


def _move(header: dict[str, Any], name: str, by: int) -> None:
    begin, end = header[name]["data_offsets"]
    header[name]["data_offsets"] = [begin, end + by]
    header[name]["shape"] = [(end + by - begin) // 4]
    header[name]["dtype"] = "F32"


def _claim(header: dict[str, Any], name: str, nbytes: int) -> None:
    begin = header[name]["data_offsets"][0]
    header[name].update(dtype="U8", shape=[nbytes], data_offsets=[begin, begin + nbytes])


def _overlap(header: dict[str, Any]) -> None:
    a, b = names_of(header)[:2]
    header[b]["data_offsets"] = [
        header[a]["data_offsets"][0],
        header[a]["data_offsets"][0]
        + (header[b]["data_offsets"][1] - header[b]["data_offsets"][0]),
    ]


def _gap(header: dict[str, Any], data: bytes) -> bytes:
    # Shift every tensor 8 bytes up and pad the front: sizes right, first 8 bytes unclaimed.
    for name in names_of(header):
        begin, end = header[name]["data_offsets"]
        header[name]["data_offsets"] = [begin + 8, end + 8]
    return join_safetensors(header, b"\0" * 8 + data)


def _flip_length(raw: bytes) -> bytes:
    out = bytearray(raw)
    out[5] ^= 0x10  # bit 44 of the header length
    return bytes(out)


def _sparse_tensor(ws: Workspace, nbytes: int) -> list[str]:
    """An honest header for a 1 TiB tensor in a sparse file; the record agrees."""
    header = {"param/fc.bias": {"dtype": "U8", "shape": [nbytes], "data_offsets": [0, nbytes]}}
    head = join_safetensors(header, b"")
    ws.tensors.write_bytes(head)
    os.truncate(ws.tensors, len(head) + nbytes)
    ws.edit_json(
        ws.record,
        lambda d: d.__setitem__(
            "tensors", {"param/fc.bias": {"dtype": "uint8", "shape": [nbytes]}}
        ),
    )
    return ws.compare()


def scenario_set_cases(table: Table) -> None:
    """Runs that do not hold the same scenarios or configurations: compare refuses."""

    def other_run(*names: str, edit: Any = None) -> Any:
        def make(ws: Workspace) -> list[str]:
            records, tensors = make_run(*names)
            if edit is not None:
                edit(records)
            shutil.rmtree(ws.cand)
            write_run(ws.cand, records, tensors)
            return ws.compare()

        return make

    def config(key: str, value: Any) -> Any:
        return other_run("mlp", edit=lambda r: r["mlp"]["config"].__setitem__(key, value))

    table.error(
        "compare/scenarios-extra-in-candidate", other_run("mlp", "cnn"), "only the candidate"
    )
    table.error("compare/scenarios-disjoint", other_run("cnn"), "only the baseline has mlp")
    table.error("compare/scenarios-config-seed", config("seed", 7), "seed")
    table.error("compare/scenarios-config-device", config("device", "cuda"), "device")
    table.error("compare/scenarios-config-dtype", config("dtype", "float64"), "dtype")


def finding_cases(table: Table) -> None:
    """Sound artifacts holding odd numbers: compare's findings, never exit 2."""

    def tensors_edit(change: Any, both: bool = False) -> Any:
        def make(ws: Workspace) -> list[str]:
            for run in (ws.base, ws.cand) if both else (ws.cand,):
                records, tensors = make_run("mlp")
                change(records["mlp"], tensors["mlp"])
                shutil.rmtree(run)
                write_run(run, records, tensors)
            return ws.compare()

        return make

    def set_weight(value: float) -> Any:
        return lambda r, t: t["param/fc.weight"].__setitem__((0, 0), value)

    def retype(r: dict[str, Any], t: dict[str, Any]) -> None:
        t["param/fc.weight"] = t["param/fc.weight"].double()
        r["tensors"]["param/fc.weight"]["dtype"] = "float64"

    def reshape(r: dict[str, Any], t: dict[str, Any]) -> None:
        t["param/fc.weight"] = t["param/fc.weight"][:2].clone()
        r["tensors"]["param/fc.weight"]["shape"] = [2, 3]

    def add_tensor(r: dict[str, Any], t: dict[str, Any]) -> None:
        t["param/new"] = torch.ones(2)
        r["tensors"]["param/new"] = {"dtype": "float32", "shape": [2]}

    nan, inf = float("nan"), float("inf")
    table.finding(
        "compare/finding-nan-in-candidate-tensor", tensors_edit(set_weight(nan)), 1, "drift"
    )
    table.finding(
        "compare/finding-inf-in-candidate-tensor", tensors_edit(set_weight(inf)), 1, "drift"
    )
    table.finding(
        "compare/finding-neg-inf-in-candidate-tensor", tensors_edit(set_weight(-inf)), 1, "drift"
    )
    table.finding(
        "compare/finding-nan-in-both-tensors",
        tensors_edit(set_weight(nan), both=True),
        0,
        "identical",
    )
    table.finding(
        "compare/finding-inf-in-both-tensors",
        tensors_edit(set_weight(inf), both=True),
        0,
        "identical",
    )
    table.finding(
        "compare/finding-nan-loss",
        tensors_edit(lambda r, t: r["steps"][0].__setitem__("loss", nan)),
        1,
        "loss",
    )
    table.finding(
        "compare/finding-inf-metric",
        tensors_edit(lambda r, t: r["steps"][1]["metrics"].__setitem__("acc", inf)),
        1,
        "acc",
    )
    table.finding("compare/finding-dtype-changed", tensors_edit(retype), 1, "param/fc.weight")
    table.finding("compare/finding-shape-changed", tensors_edit(reshape), 1, "param/fc.weight")
    table.finding(
        "compare/finding-tensor-only-in-candidate", tensors_edit(add_tensor), 1, "param/new"
    )
    # Readers ignore keys they do not know, so a newer writer at the same schema version
    # (or a tool annotating a run) does not break compare.
    table.finding(
        "compare/finding-extra-manifest-key",
        _json(lambda ws: ws.manifest, _setitem("annotation", {"by": "ci"})),
        0,
        "identical",
    )
    table.finding(
        "compare/finding-extra-record-key",
        _json(lambda ws: ws.record, _setitem("annotation", [1, 2])),
        0,
        "identical",
    )


def build(table: Table) -> None:
    manifest_cases(table)
    record_cases(table)
    tensor_file_cases(table)
    scenario_set_cases(table)
    finding_cases(table)
