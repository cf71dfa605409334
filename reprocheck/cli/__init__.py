"""The ``reprocheck`` command line: a thin layer that parses, calls the core and renders.

Subcommands are imported lazily so that ``reprocheck --help`` never imports torch. Parsing
and every command run inside the one error boundary (:func:`reprocheck._boundary.guarded`):
a :class:`~reprocheck.errors.ReprocheckError` becomes ``Error:``/``Hint:`` on stderr and its
exit code, a crash exit 4 with one line (the traceback with ``-v``); nothing calls ``sys.exit``.
"""

from __future__ import annotations

import difflib
import importlib
import sys
from typing import Any

import click

from reprocheck._boundary import guarded
from reprocheck._log import set_logger
from reprocheck._version import __version__
from reprocheck.cli._state import State
from reprocheck.errors import InputError

__all__ = ["cli", "main"]

# name -> "module:attribute"; each module defines one click command.
_COMMANDS: dict[str, str] = {
    "fingerprint": "reprocheck.cli.fingerprint:fingerprint",
    "run": "reprocheck.cli.run:run",
    "determinism": "reprocheck.cli.determinism:determinism",
    "compare": "reprocheck.cli.compare:compare",
    "calibrate": "reprocheck.cli.calibrate:calibrate",
    "check": "reprocheck.cli.check:check",
    "bisect": "reprocheck.cli.bisect:bisect",
    "lock": "reprocheck.cli.lock:lock",
    "report": "reprocheck.cli.report:report",
    "repro": "reprocheck.cli.repro:repro",
}

# What click raises to exit or to report a usage error: click handles these itself.
_CLICK_EXITS: tuple[type[BaseException], ...] = (
    click.exceptions.Exit,
    click.exceptions.Abort,
    click.ClickException,
    BrokenPipeError,  # click quietens a closed stdout (`reprocheck ... | head`)
)


class _LazyGroup(click.Group):
    """A group whose subcommands are imported only when they are used or listed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        command = getattr(importlib.import_module(module_name), attr)
        if not isinstance(command, click.Command):  # pragma: no cover - a wiring bug
            raise TypeError(f"{target} is not a click command")
        _accept_global_flags(command)
        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = click.utils.make_str(args[0])
        if name not in _COMMANDS and not name.startswith("-"):
            close = difflib.get_close_matches(name, list(_COMMANDS), n=1, cutoff=0.6)
            hint = (
                f"Did you mean `reprocheck {close[0]}`?"
                if close
                else "Run `reprocheck --help` for the list of commands."
            )
            raise _UnknownCommand(f"no command {name!r}", hint=hint)
        return super().resolve_command(ctx, args)

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        # Parsing runs eager callbacks (--help lists every command): guarded like a command.
        verbose = bool({"-v", "--verbose"} & set(args))
        with guarded(report=_echo_error, verbose=verbose, passthrough=_CLICK_EXITS) as outcome:
            return super().make_context(info_name, args, parent, **extra)
        raise click.exceptions.Exit(outcome.code)

    def invoke(self, ctx: click.Context) -> Any:
        with guarded(
            report=_echo_error,
            verbose=lambda: isinstance(ctx.obj, State) and ctx.obj.verbose,  # -v anywhere
            passthrough=_CLICK_EXITS,
        ) as outcome:
            return super().invoke(ctx)
        raise click.exceptions.Exit(outcome.code)


class _UnknownCommand(InputError):
    """A misspelt subcommand: reported like any bad input, with the closest command."""


def _set_verbosity(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """``-q``/``-v`` after the subcommand mean what they mean before it."""
    if not value:
        return
    state = ctx.find_object(State) or State()
    flags = {"verbose": state.verbose, "quiet": state.quiet, str(param.name): True}
    if flags["verbose"] and flags["quiet"]:
        raise click.UsageError("--verbose and --quiet cannot be used together.")
    new = State(verbose=flags["verbose"], quiet=flags["quiet"])
    context: click.Context | None = ctx
    while context is not None:  # every level that holds the old flags sees the new ones
        context.obj = new
        context = context.parent
    set_logger(_make_logger(new))


def _accept_global_flags(command: click.Command) -> None:
    if any(param.name in ("verbose", "quiet") for param in command.params):
        return
    command.params += [
        click.Option(
            ["-v", "--verbose"],
            is_flag=True,
            expose_value=False,
            is_eager=True,
            callback=_set_verbosity,
            help="Say more about what is happening (also before the command).",
        ),
        click.Option(
            ["-q", "--quiet"],
            is_flag=True,
            expose_value=False,
            is_eager=True,
            callback=_set_verbosity,
            help="Print only results and errors (also before the command).",
        ),
    ]


def _echo_error(line: str) -> None:
    click.echo(line, err=True)


def _make_logger(state: State) -> Any:
    def logger(message: str, kind: str) -> None:
        if kind == "debug" and not state.verbose:
            return
        if state.quiet and kind in ("info", "progress"):
            return
        prefix = "warning: " if kind == "warning" else ""
        click.echo(f"{prefix}{message}", err=True)

    return logger


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="reprocheck")
@click.option("-v", "--verbose", is_flag=True, help="Say more about what is happening.")
@click.option("-q", "--quiet", is_flag=True, help="Print only results and errors.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool, quiet: bool) -> None:
    """Tell, before an upgrade lands, whether your PyTorch training numbers will change.

    Exit codes: 0 identical or within tolerance, 1 drift, 2 bad input,
    3 the environment failed (an install, a subprocess), 4 reprocheck itself
    failed (a bug: please report), 130 interrupted.
    """
    if verbose and quiet:
        raise click.UsageError("--verbose and --quiet cannot be used together.")
    state = State(verbose=verbose, quiet=quiet)
    ctx.obj = state
    set_logger(_make_logger(state))


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=argv, prog_name="reprocheck")


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
