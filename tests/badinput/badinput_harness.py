"""The bad-input corpus's machinery: a workspace of good inputs, the case table, the checks.

Every case starts from a fresh copy of the same good inputs (a baseline and a candidate
run, two fingerprint files, a lockfile, a policy file), breaks one thing, runs one
command in process through click's runner (working directory: the workspace), and
checks the outcome:

* ``error`` cases: exit 2; stdout empty; stderr exactly one ``Error:`` line (plus at most
  one ``Hint:`` line) that contains every expected fragment (the file and the problem);
  no traceback; and the workspace byte for byte and mtime for mtime as before (nothing
  written, nothing changed, no ``-o`` or ``--out`` target created).
* ``finding`` cases (NaN and Inf in tensors, dtype or shape changes between two sound
  runs, tolerated extra keys): the exit code compare owes the data, 0 or 1, never 2.

Cases that claim huge sizes also check the test process's peak memory did not grow.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import os
import resource
import shutil
import stat
import struct
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from compare_support import fingerprint, make_run, write_fingerprint, write_run

from reprocheck.cli import cli

#: Peak-memory growth a "huge" case may cause (the claims are 2^40 bytes and more).
HUGE_GROWTH_LIMIT = 256 * 1024 * 1024
_HASH_LIMIT = 16 * 1024 * 1024  # bigger (sparse) files are compared by size and mtime


@dataclasses.dataclass
class Workspace:
    """Paths of the good inputs, copied afresh for each case."""

    root: Path

    @property
    def base(self) -> Path:
        return self.root / "base"

    @property
    def cand(self) -> Path:
        return self.root / "cand"

    @property
    def manifest(self) -> Path:
        return self.cand / "run.json"

    @property
    def record(self) -> Path:
        return self.cand / "scenarios" / "mlp" / "record.json"

    @property
    def tensors(self) -> Path:
        return self.cand / "scenarios" / "mlp" / "tensors.safetensors"

    @property
    def fp_base(self) -> Path:
        return self.root / "fp_base.json"

    @property
    def fp_cand(self) -> Path:
        return self.root / "fp_cand.json"

    @property
    def lockfile(self) -> Path:
        return self.root / "env.txt"

    @property
    def policy(self) -> Path:
        return self.root / "policy.toml"

    @property
    def outside(self) -> Path:
        """A directory beside the artifacts: where symlinks lead out to."""
        return self.root / "outside"

    def compare(self, *extra: str) -> list[str]:
        return ["compare", str(self.base), str(self.cand), *extra]

    def edit_json(self, path: Path, change: Callable[[Any], Any]) -> None:
        """Rewrite a JSON file with ``change(data)`` (its return value, if not None)."""
        data = json.loads(path.read_text(encoding="utf-8"))
        result = change(data)
        path.write_text(json.dumps(data if result is None else result), encoding="utf-8")

    def move_out(self, path: Path) -> None:
        """Replace ``path`` by a symlink to a copy outside the artifact."""
        target = self.outside / path.name
        shutil.move(str(path), str(target))
        path.symlink_to(target)


# --- the good inputs -----------------------------------------------------------------------


def click_version() -> str:
    return metadata.version("click")


LOCK_HASH = "sha256:" + "ab" * 32


def build_pristine(root: Path) -> Path:
    """Write the good inputs once; each case copies them."""
    root.mkdir(parents=True, exist_ok=True)
    records, tensors = make_run("mlp")
    write_run(root / "base", records, tensors)
    write_run(root / "cand", copy.deepcopy(records), {k: dict(v) for k, v in tensors.items()})
    write_fingerprint(root / "fp_base.json", fingerprint())
    write_fingerprint(root / "fp_cand.json", fingerprint(torch__version="2.14.0"))
    (root / "env.txt").write_text(
        "# a lockfile as pip-compile writes it\n"
        f"click=={click_version()} \\\n    --hash={LOCK_HASH} \\\n    --hash={LOCK_HASH}\n"
        "    # via -r env.in\n",
        encoding="utf-8",
    )
    (root / "policy.toml").write_text(
        'preset = "default"\n\n[dtypes.float32]\nrtol = 1e-5\natol = 1e-6\n\n'
        '[[tensor]]\nmatch = "mlp/param/*"\nrtol = 0.0\natol = 0.0\n',
        encoding="utf-8",
    )
    (root / "outside").mkdir()
    return root


# --- the case table ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Case:
    """One bad input: ``make(ws)`` breaks the workspace and returns the command line."""

    id: str
    command: str
    make: Callable[[Workspace], list[str]]
    fragments: tuple[str, ...] = ()
    outcome: str = "error"  # or "finding"
    exit_codes: tuple[int, ...] = (2,)
    huge: bool = False
    env: dict[str, str] | None = None


class Table:
    """Collects cases; ids must be unique (each is one distinct bad input)."""

    def __init__(self) -> None:
        self.cases: list[Case] = []

    def error(
        self,
        id_: str,
        make: Callable[[Workspace], list[str]],
        *fragments: str,
        huge: bool = False,
        env: dict[str, str] | None = None,
    ) -> None:
        """A bad input that must be refused with exit 2 and an Error: line with ``fragments``."""
        self._add(Case(id_, _command(id_), make, fragments, huge=huge, env=env))

    def finding(
        self, id_: str, make: Callable[[Workspace], list[str]], exit_code: int, *fragments: str
    ) -> None:
        """Odd but sound data: compare reports it (exit 0 or 1), never refuses it."""
        self._add(Case(id_, _command(id_), make, fragments, "finding", (exit_code,)))

    def _add(self, case: Case) -> None:
        if any(c.id == case.id for c in self.cases):
            raise ValueError(f"duplicate corpus case id {case.id}")
        self.cases.append(case)


def _command(id_: str) -> str:
    return id_.split("/", 1)[0]


# --- safetensors bytes ---------------------------------------------------------------------


def split_safetensors(raw: bytes) -> tuple[dict[str, Any], bytes]:
    (length,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8 : 8 + length]), raw[8 + length :]


def join_safetensors(header: Any, data: bytes, *, length: int | None = None) -> bytes:
    text = json.dumps(header).encode("utf-8")
    return struct.pack("<Q", len(text) if length is None else length) + text + data


def edit_header(path: Path, change: Callable[[dict[str, Any]], Any]) -> None:
    header, data = split_safetensors(path.read_bytes())
    result = change(header)
    path.write_bytes(join_safetensors(header if result is None else result, data))


def tensor_names(header: dict[str, Any]) -> list[str]:
    """Tensor names in data order."""
    names = [k for k in header if k != "__metadata__"]
    return sorted(names, key=lambda k: header[k]["data_offsets"][0])


# --- running and checking ------------------------------------------------------------------


def invoke(argv: list[str], env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, argv, env=env)


def snapshot(root: Path) -> dict[str, tuple[Any, ...]]:
    """Every path under ``root``: kind, size, mtime and content hash (or link target)."""
    seen: dict[str, tuple[Any, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            rel = os.path.relpath(path, root)
            if stat.S_ISLNK(st.st_mode):
                seen[rel] = ("link", os.readlink(path))
            elif stat.S_ISREG(st.st_mode):
                digest = ""
                if st.st_size <= _HASH_LIMIT:
                    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
                seen[rel] = ("file", st.st_size, st.st_mtime_ns, stat.S_IMODE(st.st_mode), digest)
            else:  # directories, FIFOs: never opened
                seen[rel] = ("other", stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode))
    return seen


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def check_error(result: Result, fragments: tuple[str, ...]) -> None:
    """Exit 2, one Error: line naming file and problem, at most one Hint:, nothing else."""
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), f"unhandled {type(result.exception).__name__}: {result.exception}"
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines, "nothing on stderr"
    assert lines[0].startswith("Error: "), result.stderr
    assert len(lines) <= 2, result.stderr
    if len(lines) == 2:
        assert lines[1].startswith("Hint: "), result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"


def check_finding(result: Result, exit_code: int, fragments: tuple[str, ...]) -> None:
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), f"unhandled {type(result.exception).__name__}: {result.exception}"
    assert result.exit_code == exit_code, (result.exit_code, result.stdout, result.stderr)
    assert "Error:" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stdout, f"{fragment!r} not in the report"
