"""Fingerprint and CLI start-up figures (issue 2: Foundation)."""

from __future__ import annotations

import sys
from pathlib import Path

from _bench import Row, interleaved_seconds, reported_seconds

CAPTURE_BUDGET_S = 0.5
HELP_BUDGET_S = 0.5

# The capture's own cost, timed inside the process right after `import torch`.
_SELF_TIMED = (
    "import time, torch\n"
    "start = time.perf_counter()\n"
    "import reprocheck\n"
    "reprocheck.fingerprint()\n"
    "print(time.perf_counter() - start)\n"
)
# The whole command (click, capture, JSON, output) timed the same way.
_CLI_SELF_TIMED = (
    "import contextlib, io, sys, time, torch\n"
    "start = time.perf_counter()\n"
    "from reprocheck.cli import cli\n"
    "with contextlib.redirect_stdout(io.StringIO()):\n"
    "    cli.main(['fingerprint', '--format', 'json'], standalone_mode=False)\n"
    "print(time.perf_counter() - start)\n"
)


def rows() -> list[Row]:
    """Capture cost beyond `import torch` beside collect_env; `reprocheck --help` start-up."""
    python = sys.executable
    script = Path(python).with_name("reprocheck")
    cli = [str(script)] if script.exists() else [python, "-m", "reprocheck"]
    import_torch, capture, fp_cli, collect_env, bare, help_time = interleaved_seconds(
        [
            [python, "-c", "import torch"],
            [python, "-c", "import torch, reprocheck; reprocheck.fingerprint()"],
            [*cli, "fingerprint", "--format", "json"],
            [python, "-m", "torch.utils.collect_env"],
            [python, "-c", "pass"],
            [*cli, "--help"],
        ]
    )
    in_process = reported_seconds(_SELF_TIMED)
    cli_in_process = reported_seconds(_CLI_SELF_TIMED)
    overhead = capture - import_torch
    goal = f"<= +{CAPTURE_BUDGET_S} s over import torch"
    return [
        Row(
            name="fingerprint() beyond import torch (wall, subprocesses)",
            value=overhead,
            unit="s",
            reference_name="python -m torch.utils.collect_env",
            reference_value=collect_env,
            goal=goal,
            ok=overhead <= CAPTURE_BUDGET_S,
        ),
        Row(
            name="import reprocheck + fingerprint() (timed in-process)",
            value=in_process,
            unit="s",
            reference_name="python -m torch.utils.collect_env",
            reference_value=collect_env,
            goal=goal,
            ok=in_process <= CAPTURE_BUDGET_S,
        ),
        Row(
            name="reprocheck fingerprint --format json (timed in-process)",
            value=cli_in_process,
            unit="s",
            reference_name="python -m torch.utils.collect_env",
            reference_value=collect_env,
            goal=goal,
            ok=cli_in_process <= CAPTURE_BUDGET_S,
        ),
        Row(
            name="python -c 'import torch, reprocheck; fingerprint()'",
            value=capture,
            unit="s",
            reference_name="python -c 'import torch' (floor)",
            reference_value=import_torch,
            goal=f"<= floor + {CAPTURE_BUDGET_S} s",
            ok=capture <= import_torch + CAPTURE_BUDGET_S,
        ),
        Row(
            name="reprocheck fingerprint --format json (whole CLI)",
            value=fp_cli,
            unit="s",
            reference_name="python -c 'import torch' (floor)",
            reference_value=import_torch,
            goal=f"<= floor + {CAPTURE_BUDGET_S} s",
            ok=fp_cli <= import_torch + CAPTURE_BUDGET_S,
        ),
        Row(
            name="python -m torch.utils.collect_env (the peer)",
            value=collect_env,
            unit="s",
            reference_name="python -c 'import torch' (floor)",
            reference_value=import_torch,
            goal="shown for comparison",
            ok=True,
        ),
        Row(
            name="reprocheck --help",
            value=help_time,
            unit="s",
            reference_name="python -c pass (floor)",
            reference_value=bare,
            goal=f"<= floor + {HELP_BUDGET_S} s (no torch import)",
            ok=help_time <= bare + HELP_BUDGET_S,
        ),
    ]
