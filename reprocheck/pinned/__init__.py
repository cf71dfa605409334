"""Pinned environments: lockfiles (pip-tools), pip's configuration, and the matrix of runs
from one environment per lockfile compared with a baseline.

Everything here but the matrix's comparison is torch-free, so a host with only nox can
build and drive the environments.
"""
