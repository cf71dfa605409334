"""`reprocheck repro BASELINE CANDIDATE -o DIR`: a standalone reproduction to file upstream."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["repro"]


@click.command(name="repro")
@click.argument("baseline", type=click.Path(path_type=Path))
@click.argument("candidate", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=Path),
    metavar="DIR",
    help="The directory to create for the reproduction (must not exist, or be empty).",
)
@click.option(
    "--scenario",
    default=None,
    metavar="NAME",
    help="Reproduce this scenario's first divergent operator [default: the first "
    "scenario whose traced operators differ].",
)
@click.option(
    "--python",
    "python",
    type=click.Path(path_type=Path),
    default=None,
    metavar="PYTHON",
    help="Replay in this interpreter: the baseline's own environment, with reprocheck "
    "installed (e.g. .nox/replay-env-torch-2-6-0/bin/python) [default: this one].",
)
def repro(
    baseline: Path, candidate: Path, out: Path, scenario: str | None, python: Path | None
) -> None:
    """Write a standalone reproduction of the first operator where the runs part.

    The first traced operator whose output differs between BASELINE and CANDIDATE is
    found as `reprocheck compare` finds it; the baseline's scenario is then replayed
    here, in a fresh process with the baseline's seed, steps, thread count and
    allow-listed variables (ATEN_CPU_CAPABILITY...), and that call's inputs are kept.
    DIR gets repro.py (needs only torch and safetensors), repro.json (the call and the
    baseline's output digest), inputs.safetensors and, when the replay here gave the
    baseline's output, expected.safetensors. `python DIR/repro.py` exits 0 where an
    environment gives the baseline's output bit for bit, 1 where not (printing the
    largest ULP distance and how many elements differ).

    The replay must give the baseline's output for the script to measure ULP: run repro
    in the baseline's environment, or point --python at its interpreter (the matrix's
    .nox/replay-env-<env>/bin/python) when comparing across torch versions.

    \b
    Examples:
      reprocheck repro runs/torch-2.6.0 runs/torch-2.13.0 -o repro \
          --python .nox/replay-env-torch-2-6-0/bin/python
      reprocheck repro runs/a runs/b --scenario transformer -o repro-transformer
      python repro/repro.py

    Exit 0 when the reproduction was written, 2 bad input (also: runs that do not
    diverge in a traced operator).
    """
    from reprocheck.workflows.repro import write_repro

    done = write_repro(baseline, candidate, out, scenario=scenario, python=python)
    where = f"{done.module or '(no module)'}, scenario {done.scenario}, step {done.step}"
    click.echo(f"first divergent operator: {done.op} in {where} {done.phase}")
    if done.reproduced:
        click.echo("the replay here gave the baseline's output: kept for the ULP distance")
    else:
        click.echo(
            "warning: the replay here did not give the baseline's output, so repro.py "
            "can tell whether an environment reproduces it but not by how many ULP",
            err=True,
        )
    click.echo(f"wrote {done.script} (run: python {done.script})")
