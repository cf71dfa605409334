"""This project's pinned-environment matrix: one replay session per lockfile, one compare.

``nox -s replay compare`` (or ``python -m reprocheck.nox``, which also exits 3 when an
environment cannot be built) replays ``mymodel:build`` in each environment of
``lockfiles/`` and prints every environment against torch-2.13.0.
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
    scenarios=["mymodel:build"],
    run_args=["--steps", "3"],
    baseline="torch-2.13.0",
)
