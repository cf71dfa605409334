"""Tiny local packages as real wheels, and hashed lockfiles pinning them (for bisect tests).

``rcinit`` provides the initializer the test scenario uses (version 2 draws wider weights),
``rcscale`` the loss scale (version 2 doubles it): each really moves the numbers.
``rcalpha`` and ``rcbeta`` change too, but the scenario never imports them. The lockfiles
are this repository's torch-2.13.0 lockfile (reprocheck's own requirements, hashed) plus
these pins, with the sha256 of the wheels written here.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BASE_LOCKFILE = ROOT / "lockfiles" / "torch-2.13.0.txt"

SOURCES: dict[tuple[str, str], str] = {
    ("rcinit", "1.0"): "import torch\n\nSTD = 0.1\n",
    ("rcinit", "2.0"): "import torch\n\nSTD = 0.3\n",
    ("rcscale", "1.0"): "FACTOR = 1.0\n",
    ("rcscale", "2.0"): "FACTOR = 2.0\n",
    ("rcalpha", "1.0"): "VALUE = 1\n",
    ("rcalpha", "2.0"): "VALUE = 2\n",
    ("rcbeta", "1.0"): "VALUE = 1\n",
    ("rcbeta", "2.0"): "VALUE = 2\n",
}
_INIT = (
    "\n\ndef init(model):\n"
    "    for p in model.parameters():\n"
    "        torch.nn.init.normal_(p, std=STD)\n"
)

SCENARIO = '''\
"""The bisect tests' scenario: rcinit's initializer, rcscale's loss scale."""

import torch, reprocheck  # noqa: E401
import rcinit, rcscale  # noqa: E401


def build(ctx):
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    rcinit.init(model)
    x = torch.randn(ctx.steps, 4, 8, generator=ctx.generator)
    y = torch.randint(0, 2, (ctx.steps, 4), generator=ctx.generator)
    return reprocheck.Scenario(
        model=model,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        batch=lambda step: (x[step], y[step]),
        loss=lambda m, b: torch.nn.functional.cross_entropy(m(b[0]), b[1]) * rcscale.FACTOR,
    )
'''


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def make_wheel(out: Path, name: str, version: str, source: str, requires: str = "") -> Path:
    """A pure-Python wheel of module ``name`` holding ``source`` (``requires``: Requires-Dist)."""
    info = f"{name}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    metadata += f"Requires-Dist: {requires}\n" if requires else ""
    files = {
        f"{name}.py": source.encode(),
        f"{info}/METADATA": metadata.encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
    }
    record = [_record_line(path, data) for path, data in files.items()] + [f"{info}/RECORD,,"]
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    path = out / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in files.items():
            archive.writestr(zipfile.ZipInfo(member, (2020, 1, 1, 0, 0, 0)), data)
    return path


def make_wheels(out: Path) -> dict[tuple[str, str], str]:
    """Every package version as a wheel in ``out``; their sha256."""
    out.mkdir(parents=True, exist_ok=True)
    hashes = {}
    for (name, version), source in SOURCES.items():
        text = source + (_INIT if name == "rcinit" else "")
        wheel = make_wheel(out, name, version, text)
        hashes[name, version] = hashlib.sha256(wheel.read_bytes()).hexdigest()
    return hashes


def write_lockfile(
    path: Path, versions: Mapping[str, str], hashes: Mapping[tuple[str, str], str]
) -> Path:
    """The base lockfile plus ``versions`` (name -> version), hashed like pip-compile does."""
    base = BASE_LOCKFILE.read_text(encoding="utf-8")
    head, sep, unsafe = base.partition("\n# The following packages are considered to be unsafe")
    extra = "".join(
        f"{name}=={version} \\\n    --hash=sha256:{hashes[name, version]}\n    # via -r req.in\n"
        for name, version in sorted(versions.items())
    )
    path.write_text(head.rstrip("\n") + "\n" + extra + sep + unsafe, encoding="utf-8")
    return path
