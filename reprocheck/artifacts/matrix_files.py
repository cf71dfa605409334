"""The matrix's files: each environment's status record and the matrix result.

A nox ``replay`` session records how far it got in ``RUNS/.status/<env>.json`` (kind
``reprocheck-env-status``); the ``compare`` session writes the whole matrix, every
comparison included, to ``RUNS/matrix.json`` (kind ``reprocheck-matrix``). Both carry the
``schema_version`` every artifact has, are written atomically and read through the
hardened JSON reader, so a corrupt or foreign file is an ArtifactError naming it.

The values are :mod:`reprocheck.model.matrix`'s; a full matrix holds comparisons, which
this layer does not know, so :func:`read_matrix` takes the comparison's reader.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

from reprocheck._io import atomic_write_text
from reprocheck.artifacts.jsonfile import check_schema, dumps, load_json
from reprocheck.errors import ArtifactError
from reprocheck.model.formats import SCHEMA_VERSION
from reprocheck.model.matrix import (
    Compared,
    ComparisonReader,
    EnvStatus,
    Matrix,
    MatrixResult,
)

__all__ = [
    "MATRIX_FILE",
    "MATRIX_KIND",
    "STATUS_DIR",
    "STATUS_KIND",
    "read_matrix",
    "read_matrix_result",
    "read_status",
    "status_path",
    "write_matrix",
    "write_status",
]

#: Where, under the runs directory, each environment's status record goes.
STATUS_DIR = ".status"
#: The matrix result's name in the runs directory.
MATRIX_FILE = "matrix.json"
STATUS_KIND = "reprocheck-env-status"
MATRIX_KIND = "reprocheck-matrix"
_STATUS_HINT = "Re-run its replay session."
_MATRIX_HINT = "Run the compare session again (nox -s compare)."

C = TypeVar("C", bound=Compared)


def _header(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION, "kind": kind, **body}


@contextlib.contextmanager
def _hint(hint: str) -> Iterator[None]:
    """Give every ArtifactError raised inside the hint that fits this file."""
    try:
        yield
    except ArtifactError as exc:
        raise type(exc)(str(exc), hint=hint) from None


def _read(path: Path, kind: str, what: str) -> dict[str, Any]:
    """The document at ``path``, after checking its ``kind`` and ``schema_version``."""
    data = load_json(path, what)
    check_schema(data, kind, path, what)
    return dict(data)


def status_path(runs_dir: Path, env: str) -> Path:
    """Where ``env``'s status record goes: ``runs_dir/.status/<env>.json``."""
    return Path(runs_dir) / STATUS_DIR / f"{env}.json"


def write_status(runs_dir: Path, status: EnvStatus) -> None:
    """Record ``status`` under ``runs_dir/.status/`` (atomically)."""
    path = status_path(runs_dir, status.env)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, dumps(_header(STATUS_KIND, status.to_dict())))


def read_status(runs_dir: Path, env: str) -> EnvStatus | None:
    """The recorded status of ``env``, or None when its replay session never ran.

    Raises:
        ArtifactError: the record is not a valid environment status.
    """
    path = status_path(runs_dir, env)
    if not path.exists() and not path.is_symlink():
        return None
    with _hint(_STATUS_HINT):
        return EnvStatus.from_dict(_read(path, STATUS_KIND, "environment status"), str(path))


def write_matrix(path: Path, matrix: Matrix[Any]) -> None:
    """Write the whole matrix to ``path`` (atomically).

    Not through :func:`dumps`: its sorted keys would reorder ``lines``, whose order is the
    table's.
    """
    data = _header(MATRIX_KIND, matrix.to_dict())
    atomic_write_text(path, json.dumps(data, indent=2, allow_nan=False, ensure_ascii=False) + "\n")


def _read_matrix_document(path: Path) -> dict[str, Any]:
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        raise ArtifactError(
            f"{path} does not exist: the matrix was not written",
            hint="Run the compare session (nox -s replay compare).",
        )
    with _hint(_MATRIX_HINT):
        return _read(path, MATRIX_KIND, "matrix result")


def read_matrix_result(path: Path) -> MatrixResult:
    """The verdict recorded in a matrix file (``runs/matrix.json``), without the comparisons.

    Raises:
        ArtifactError: the file is missing, not JSON, or not a matrix result.
    """
    data = _read_matrix_document(path)
    with _hint(_MATRIX_HINT):
        return MatrixResult.from_dict(data, str(path))


def read_matrix(path: Path, read_comparison: ComparisonReader[C]) -> Matrix[C]:
    """The whole matrix recorded in ``path``, each comparison read by ``read_comparison``.

    Raises:
        ArtifactError: the file is missing, not JSON, or not a matrix.
    """
    data = _read_matrix_document(path)
    with _hint(_MATRIX_HINT):
        return Matrix.from_dict(data, read_comparison, str(path))
