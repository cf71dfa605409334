"""The text form of a fingerprint: an aligned table, one block per section."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from reprocheck.model.fingerprint import Fingerprint

__all__ = ["NUMERIC_PACKAGES", "render_text"]

# Distributions whose version moves numbers (kernels, BLAS, compilers); shown by default.
NUMERIC_PACKAGES = re.compile(
    r"^(torch|torchvision|torchaudio|numpy|scipy|triton|pytorch-triton.*|nvidia-.*|mkl.*"
    r"|intel-openmp|onednn.*|openblas.*|scipy-openblas.*|safetensors|reprocheck)$"
)
# Keys not worth a line of their own in the text form (the JSON form has them).
_HIDDEN = {("torch", "config_raw"), ("torch", "parallel_raw"), ("torch", "config")}
_CONFIG_HIDDEN = {"build_settings"}


def _show(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return " ".join(_show(v) for v in value) if value else "-"
    return str(value)


def _short(name: str) -> str:
    return name.removeprefix("torch.").removesuffix(".fp32_precision")


def _section(title: str, rows: list[tuple[str, str]]) -> list[str]:
    width = max((len(key) for key, _ in rows), default=0)
    lines = [title]
    if not rows:
        lines.append("  (none)")
    lines.extend(f"  {key:<{width}}  {value}" for key, value in rows)
    return lines


def _rows(name: str, section: Mapping[str, Any]) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for key, value in section.items():
        if (name, key) in _HIDDEN:
            continue
        if isinstance(value, Mapping):
            # fp32_precision keys are full dotted paths; the section already says "torch".
            rows.extend((f"{key}.{_short(k)}", _show(v)) for k, v in value.items())
        elif name == "cuda" and key == "devices":
            for i, dev in enumerate(value):
                rows.extend((f"device {i} {k}", _show(v)) for k, v in dev.items())
        else:
            rows.append((key, _show(value)))
    if name == "torch":
        config = section.get("config") or {}
        rows.extend((f"config.{k}", _show(v)) for k, v in config.items() if k not in _CONFIG_HIDDEN)
    return rows


def render_text(fp: Fingerprint, *, all_packages: bool = False) -> str:
    """The fingerprint as a readable, aligned table.

    Args:
        fp: the fingerprint.
        all_packages: list every installed distribution, not only the numerics-relevant ones.
    """
    blocks: list[tuple[str, list[tuple[str, str]]]] = [
        (
            "fingerprint",
            [
                ("digest", fp.digest),
                ("captured_at", fp.captured_at),
                ("reprocheck", fp.reprocheck_version),
            ],
        )
    ]
    blocks.extend(
        (name, _rows(name, getattr(fp, name)))
        for name in ("python", "platform", "cpu", "torch", "threads", "determinism", "cuda")
    )
    if fp.distributed:
        blocks.append(("distributed", _rows("distributed", fp.distributed)))
    blocks.append(("env (allow-listed variables that are set)", list(fp.env.items())))
    shown = [
        (name, version)
        for name, version in fp.packages.items()
        if all_packages or NUMERIC_PACKAGES.match(name)
    ]
    scope = "all" if all_packages else "numerics-relevant; -v lists all"
    blocks.append((f"packages ({len(fp.packages)} installed; {scope})", shown))
    if fp.package_sources:
        blocks.append(("package sources", list(fp.package_sources.items())))
    lockfile = fp.lockfile
    blocks.append(
        (
            "lockfile",
            [("path", lockfile["path"]), ("sha256", lockfile["sha256"])] if lockfile else [],
        )
    )
    lines: list[str] = []
    for title, rows in blocks:
        if lines:
            lines.append("")
        lines.extend(_section(title, rows))
    return "\n".join(lines) + "\n"
