"""This project's pinned-environment matrix over its own training script.

``python -m reprocheck.nox`` (or ``nox -s replay compare``) builds each environment of
``lockfiles/``, runs ``python train.py`` in it (which records its run at
``$REPROCHECK_OUT`` = ``runs/<env>``) and prints every environment against torch-2.13.0.
"""

from __future__ import annotations

import nox

import reprocheck.nox

nox.options.default_venv_backend = "uv|virtualenv"
# `nox` alone runs the matrix: every replay session, then the comparison.
nox.options.sessions = ["replay", "compare"]

reprocheck.nox.matrix(
    lockfiles="lockfiles",
    runs="runs",
    command=["python", "train.py", "--steps", "5"],
    baseline="torch-2.13.0",
)
