"""Logging seam between the core and the CLI.

The core never prints. It reports progress and notes through :func:`log`; the CLI
installs a callback with :func:`set_logger` that renders them (or drops them with
``--quiet``). Without a callback, messages go to the standard ``logging`` module.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Callable, Iterator
from typing import Literal

__all__ = ["Kind", "log", "set_logger", "using_logger"]

Kind = Literal["info", "progress", "warning", "debug"]
Logger = Callable[[str, Kind], None]

_LOGGER: contextvars.ContextVar[Logger | None] = contextvars.ContextVar(
    "reprocheck_logger", default=None
)
_std = logging.getLogger("reprocheck")
_LEVELS = {
    "info": logging.INFO,
    "progress": logging.INFO,
    "warning": logging.WARNING,
    "debug": logging.DEBUG,
}


def log(message: str, *, kind: Kind = "info") -> None:
    """Report a message from the core to whoever is listening."""
    logger = _LOGGER.get()
    if logger is None:
        _std.log(_LEVELS[kind], message)
    else:
        logger(message, kind)


def set_logger(logger: Logger | None) -> None:
    """Install ``logger`` for the current context (the CLI does this once)."""
    _LOGGER.set(logger)


@contextlib.contextmanager
def using_logger(logger: Logger | None) -> Iterator[None]:
    """Install ``logger`` for the duration of a ``with`` block."""
    token = _LOGGER.set(logger)
    try:
        yield
    finally:
        _LOGGER.reset(token)
