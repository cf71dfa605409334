"""``torch.compile`` in a replay: compiled where the trace is not, and recorded as such.

The operator trace is a ``TorchDispatchMode``; dynamo will not compile a frame while one
is active, and it caches that skip for the frame's code, so without help a compiled model
would run eager for the whole replay after one traced step, silently. :class:`CompileWatch`
resets dynamo's caches after the last traced step (the traced steps run eager, and the
record says so), and reads dynamo's counters at the end into the record's ``compiled``.

``torch.compile`` wraps a module in one whose parameters are named ``_orig_mod.<name>``;
:func:`plain_name` drops that segment so that compiled and eager runs compare name by name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reprocheck._compat import dynamo
from reprocheck._log import log
from reprocheck.model.compiled import Compiled

if TYPE_CHECKING:
    import torch

__all__ = ["CompileWatch", "plain_name"]

_WRAPPER = "_orig_mod"


def plain_name(name: str) -> str:
    """``name`` without ``torch.compile``'s ``_orig_mod`` segments (``_orig_mod.0.weight``
    is ``0.weight``; the wrapper module itself, ``_orig_mod``, is the model: ``""``)."""
    if _WRAPPER not in name:  # the common case first: this runs per parameter
        return name
    return ".".join(part for part in name.split(".") if part != _WRAPPER)


class CompileWatch:
    """Keep a compiled model compiled outside the traced steps, and record what compiled.

    Args:
        name: the scenario (for the note about its traced steps).
        model: the scenario's model; without a ``torch.compile`` wrapper inside it the
            watch does nothing and :meth:`result` is None.
    """

    def __init__(self, name: str, model: torch.nn.Module) -> None:
        self.name = name
        self.backend = dynamo.compiled_backend(model)
        self.eager_steps = 0
        if self.backend is not None:
            dynamo.forget_compiled_frames()  # counters from this replay alone

    def traced(self, step: int, last: bool) -> None:
        """Step ``step`` ran traced (eager); after the ``last`` one, compile again."""
        if self.backend is None:
            return
        self.eager_steps += 1
        if last:
            dynamo.forget_compiled_frames()
            log(
                f"{self.name}: torch.compile'd model ran eager in the traced step(s) 0-{step} "
                "(dynamo does not compile under the operator trace); compiled from here on",
                kind="info",
            )

    def result(self) -> Compiled | None:
        """What compiled: None without a compiled model."""
        if self.backend is None:
            return None
        found = dynamo.counts()
        return Compiled(
            backend=self.backend,
            graphs=found["graphs"],
            graph_breaks=found["graph_breaks"],
            eager_steps=self.eager_steps,
        )
