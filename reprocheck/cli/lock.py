"""``reprocheck lock``: write lockfiles with pip-tools, or verify an environment against one."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import click

from reprocheck.cli._options import emit, format_choice, output_option
from reprocheck.errors import InputError

__all__ = ["lock"]

_META_KEY = "reprocheck.pinned.lock.environments"


def group_environments(args: list[str]) -> list[tuple[str, list[str]]]:
    """Pair each ``--pin`` with the ``--env`` before it, in command-line order.

    Raises:
        InputError: a ``--pin`` comes before any ``--env``, or an environment is named twice.
    """
    groups: list[tuple[str, list[str]]] = []
    iterator = iter(args)
    for arg in iterator:
        if arg == "--":
            break
        option, value = _split_option(arg, iterator)
        if option == "--env":
            if value is None:
                break  # click reports the missing value itself
            if any(name == value for name, _ in groups):
                raise InputError(
                    f"environment {value!r} is named twice",
                    hint="Give each --env once, followed by all its --pin options.",
                )
            groups.append((value, []))
        elif option == "--pin":
            if value is None:
                break
            if not groups:
                raise InputError(
                    f"--pin {value} comes before any --env",
                    hint="Name the environment first: --env torch-2.6.0 --pin torch==2.6.0.",
                )
            groups[-1][1].append(value)
    return groups


def _split_option(arg: str, rest: Any) -> tuple[str | None, str | None]:
    for name in ("--env", "--pin"):
        if arg == name:
            return name, next(rest, None)
        if arg.startswith(name + "="):
            return name, arg[len(name) + 1 :]
    return None, None


class _LockCommand(click.Command):
    """Records the order of --env/--pin before click folds them into two lists."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[_META_KEY] = group_environments(list(args))
        return super().parse_args(ctx, args)


@click.command(name="lock", cls=_LockCommand)
@click.option(
    "--env",
    "envs",
    metavar="NAME",
    multiple=True,
    help="Start an environment: its lockfile is OUTPUT_DIR/NAME.txt. Repeat for several.",
)
@click.option(
    "--pin",
    "pins",
    metavar="SPEC",
    multiple=True,
    help="A requirement for the --env before it, e.g. torch==2.6.0 or 'numpy<2'. Repeatable.",
)
@click.option(
    "--requirements",
    # No dir_okay/file_okay checks here: reprocheck.pinned.lock refuses a wrong kind of path with
    # one Error: line and a Hint: (click's own check prints a usage block).
    type=click.Path(path_type=Path),
    default=None,
    help="Requirements to lock besides the pins (default: reprocheck's runtime requirements).",
)
@click.option(
    "--output-dir",
    type=click.Path(path_type=Path),
    default=Path("lockfiles"),
    show_default=True,
    help="Where the lockfiles (NAME.txt) and their inputs (NAME.in) go; created when missing.",
)
@click.option(
    "--upgrade",
    is_flag=True,
    help="Resolve afresh instead of keeping the versions an existing lockfile pins.",
)
@click.option(
    "--verify",
    "verify",
    metavar="LOCKFILE",
    type=click.Path(path_type=Path),
    default=None,
    help="Instead of locking: check the running environment matches LOCKFILE exactly.",
)
@format_choice(help_text="Output format of --verify.")
@output_option()
@click.pass_context
def lock(
    ctx: click.Context,
    *,
    envs: tuple[str, ...],
    pins: tuple[str, ...],
    requirements: Path | None,
    output_dir: Path,
    upgrade: bool,
    verify: Path | None,
    fmt: str,
    output: Path | None,
) -> None:
    """Write one lockfile per environment with pip-compile, or verify one.

    \b
    reprocheck lock --env torch-2.6.0 --pin torch==2.6.0 --pin "numpy<2" \\
                    --env torch-2.13.0 --pin torch==2.13.0
    reprocheck lock --verify lockfiles/torch-2.13.0.txt

    Lockfiles carry hashes and never this machine's index or find-links options.
    Exit codes: 0 written / environment matches, 1 the environment differs from
    the lockfile, 2 bad input (a missing or corrupt lockfile), 3 pip-compile failed
    (e.g. no distribution satisfies a pin).
    """
    if verify is not None:
        if envs or pins:
            raise InputError(
                "--verify cannot be combined with --env/--pin",
                hint="Lock first, then verify in the environment built from the lockfile.",
            )
        _verify(ctx, verify, fmt, output)
        return
    groups = ctx.meta.get(_META_KEY, [])
    if not groups:
        raise InputError(
            "no environment to lock",
            hint="Name one: reprocheck lock --env torch-2.13.0 --pin torch==2.13.0.",
        )
    from reprocheck.pinned.lock import EnvironmentSpec, compile_lockfile

    specs = [EnvironmentSpec(name=name, pins=tuple(p)) for name, p in groups]
    command = _command_line(specs, requirements, output_dir)
    written = [
        compile_lockfile(
            spec,
            output_dir=output_dir,
            requirements=requirements,
            command=command,
            upgrade=upgrade,
        )
        for spec in specs
    ]
    emit("\n".join(str(path) for path in written), output)


def _command_line(specs: list[Any], requirements: Path | None, output_dir: Path) -> str:
    """The `reprocheck lock` command recorded in each lockfile's header (no machine paths)."""
    parts = ["reprocheck", "lock"]
    for spec in specs:
        parts += ["--env", spec.name]
        for pin in spec.pins:
            parts += ["--pin", pin]
    if requirements is not None:
        parts += ["--requirements", _portable(requirements)]
    if output_dir != Path("lockfiles"):
        parts += ["--output-dir", _portable(output_dir)]
    return shlex.join(parts)


def _portable(path: Path) -> str:
    if path.is_absolute():
        try:
            return path.relative_to(Path.cwd()).as_posix()
        except ValueError:
            return path.name
    return path.as_posix()


def _verify(ctx: click.Context, lockfile: Path, fmt: str, output: Path | None) -> None:
    from reprocheck.pinned.lock import verify_environment

    result = verify_environment(lockfile)
    if fmt == "json":
        emit(json.dumps(result.to_dict(), indent=2, sort_keys=True), output)
    else:
        lines = []
        if result.matches:
            lines.append(f"{lockfile}: the environment matches ({result.checked} packages).")
        else:
            count = len(result.missing) + len(result.different)
            lines.append(f"{lockfile}: the environment differs in {count} package(s):")
            lines += [f"  {p.name}: locked {p.version}, not installed" for p in result.missing]
            lines += [
                f"  {p.name}: locked {p.version}, installed {installed}"
                for p, installed in result.different
            ]
        if result.extra:
            names = ", ".join(f"{name} {version}" for name, version in result.extra)
            lines.append(f"note: installed but not in the lockfile (not an error): {names}")
        emit("\n".join(lines), output)
    if not result.matches:
        ctx.exit(1)
