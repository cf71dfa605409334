"""`reprocheck bisect` end to end: real wheels, real uv environments, real replays.

Four tiny packages change between the lockfiles (see ``bisect_fixtures``); ``rcinit`` and
``rcscale`` move the numbers of the scenario, ``rcalpha`` and ``rcbeta`` do not. Every test
shares one environment cache, as a team's repeated bisections would, so OLD is built once;
the number of environments *tried* (built or reused) is what the bound is about.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from bisect_fixtures import PAIR_SCENARIO, SCENARIO, make_wheel, make_wheels, write_lockfile

from reprocheck.pinned.bisect_envs import EnvBuilder, mixable_groups
from reprocheck.pinned.bisect_plan import plan_bisect
from reprocheck.pinned.pipconfig import pip_config_value

pytestmark = pytest.mark.integration

PY = f"{sys.version_info[0]}.{sys.version_info[1]}"
ONE = {"rcinit": "1.0", "rcscale": "1.0", "rcalpha": "1.0", "rcbeta": "1.0"}


class Workspace:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.wheels = root / "wheels"
        self.hashes = make_wheels(self.wheels)
        (root / "scen.py").write_text(SCENARIO, encoding="utf-8")
        (root / "pair.py").write_text(PAIR_SCENARIO, encoding="utf-8")
        self.old = write_lockfile(root / "old.txt", ONE, self.hashes)

    def lockfile(self, name: str, **versions: str) -> Path:
        return write_lockfile(self.root / f"{name}.txt", {**ONE, **versions}, self.hashes)

    def bisect(
        self, new: Path, old: Path | None = None, replay: tuple[str, ...] = ("scen:build",)
    ) -> tuple[subprocess.CompletedProcess[str], dict]:
        out = self.root / f"{new.stem}.json"
        argv = [sys.executable, "-m", "reprocheck", "bisect", str(old or self.old), str(new)]
        steps = () if "--command" in replay else ("--steps", "2")
        argv += [*replay, *steps, "--find-links", str(self.wheels)]
        argv += ["--format", "json", "-o", str(out)]
        env = {k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"}
        done = subprocess.run(
            argv, check=False, cwd=self.root, capture_output=True, text=True, env=env
        )
        report = json.loads(out.read_text(encoding="utf-8")) if out.is_file() else {}
        return done, report


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    if not shlex.split(pip_config_value("find-links") or "") and not pip_config_value("index-url"):
        pytest.fail("pip has no find-links or index configured: torch cannot be installed")
    return Workspace(tmp_path_factory.mktemp("bisect"))


def culprit_names(report: dict) -> list[set[str]]:
    return [{p["name"] for p in c["packages"]} for c in report["culprits"]]


def test_single_culprit_named_within_the_bound(ws: Workspace) -> None:
    new = ws.lockfile("new-one", rcinit="2.0", rcalpha="2.0", rcbeta="2.0")
    done, report = ws.bisect(new)
    assert done.returncode == 1, done.stderr
    assert report["verdict"] == "culprit"
    assert culprit_names(report) == [{"rcinit"}]
    culprit = report["culprits"][0]
    assert culprit["packages"] == [{"name": "rcinit", "baseline": "1.0", "candidate": "2.0"}]
    assert culprit["confirmed"] is True
    assert culprit["drift"]["scenario"] == "scen:build"
    assert culprit["first_divergence"]["step"] == 0  # the initial weights differ
    groups = len(report["groups"])
    assert groups == 3
    tried, bound = len(report["environments"]), math.ceil(math.log2(groups)) + 3
    print(f"single culprit: {tried} environments tried for {groups} groups (bound {bound})")
    assert tried <= bound, report["environments"]
    labels = [e["label"] for e in report["environments"]]
    assert labels[:2] == ["OLD", "NEW"]
    # progress: one line per environment and stage
    assert "bisect [2] NEW: comparing with OLD" in done.stderr


def test_two_culprits_both_named(ws: Workspace) -> None:
    new = ws.lockfile("new-two", rcinit="2.0", rcscale="2.0", rcalpha="2.0", rcbeta="2.0")
    done, report = ws.bisect(new)
    assert done.returncode == 1, done.stderr
    assert report["verdict"] == "culprit"
    assert sorted(map(sorted, culprit_names(report))) == [["rcinit"], ["rcscale"]]
    groups = len(report["groups"])
    tried, bound = len(report["environments"]), math.ceil(math.log2(groups)) + 3
    print(f"two culprits: {tried} environments tried for {groups} groups (bound {bound})")
    assert tried <= bound, report["environments"]


def test_no_drift_builds_only_the_two_ends(ws: Workspace) -> None:
    """Also: lockfiles without reprocheck's own requirements (click, deepdiff, safetensors)."""
    old = write_lockfile(ws.root / "lean-old.txt", ONE, ws.hashes, lean=True)
    assert "click==" not in old.read_text(encoding="utf-8")
    versions = {**ONE, "rcalpha": "2.0", "rcbeta": "2.0"}
    new = write_lockfile(ws.root / "new-none.txt", versions, ws.hashes, lean=True)
    done, report = ws.bisect(new, old=old)
    assert done.returncode == 0, done.stderr
    assert report["verdict"] == "no_drift"
    assert report["culprits"] == []
    assert [e["label"] for e in report["environments"]] == ["OLD", "NEW"]


def test_unbuildable_environment_exits_3_naming_it(ws: Workspace) -> None:
    new = ws.lockfile("new-broken", rcinit="2.0", rcalpha="2.0")
    text = new.read_text(encoding="utf-8")
    wrong = ws.hashes["rcalpha", "1.0"]
    new.write_text(text.replace(ws.hashes["rcalpha", "2.0"], wrong), encoding="utf-8")
    done, report = ws.bisect(new)
    assert done.returncode == 3, done.stderr
    errors = [ln for ln in done.stderr.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1, done.stderr
    assert "environment NEW" in errors[0]
    assert "Traceback" not in done.stderr
    # what was learned is still reported: OLD was built and replayed
    assert report["verdict"] == "incomplete"
    states = {e["label"]: e["verdict"] for e in report["environments"]}
    assert states == {"OLD": "baseline", "NEW": "not built"}


NOXFILE = """\
import reprocheck.nox

reprocheck.nox.matrix(
    lockfiles="lockfiles",
    runs="runs",
    scenarios=["scen:build"],
    run_args=["--steps", "2"],
    baseline="a-old",
)
"""


def test_groups_that_cannot_mix_are_merged(ws: Workspace) -> None:
    """rcneeds 2.0 requires rcalpha>=2: OLD with rcneeds 2.0 alone cannot be resolved."""
    rcneeds = {
        "1.0": make_wheel(ws.wheels, "rcneeds", "1.0", "X = 1\n"),
        "2.0": make_wheel(ws.wheels, "rcneeds", "2.0", "X = 2\n", requires="rcalpha>=2.0"),
    }
    digest = {v: hashlib.sha256(w.read_bytes()).hexdigest() for v, w in rcneeds.items()}

    def lock(name: str, needs: str, alpha: str) -> Path:
        both = "    # via\n    #   -r req.in\n    #   rcneeds\n"
        text = (
            f"#\n# This file is autogenerated by pip-compile with Python {PY}\n#\n"
            f"rcalpha=={alpha} \\\n    --hash=sha256:{ws.hashes['rcalpha', alpha]}\n{both}"
            f"rcneeds=={needs} \\\n    --hash=sha256:{digest[needs]}\n    # via -r req.in\n"
        )
        path = ws.root / name
        path.write_text(text, encoding="utf-8")
        return path

    plan = plan_bisect(lock("m-old.txt", "1.0", "1.0"), lock("m-new.txt", "2.0", "2.0"))
    assert sorted(g.lead for g in plan.groups) == ["rcalpha", "rcneeds"]
    builder = EnvBuilder(ws.root / "cache", python=plan.python, find_links=[str(ws.wheels)])
    groups = mixable_groups(plan, builder)
    assert len(groups) == 1
    assert set(groups[0].names) == {"rcalpha", "rcneeds"}
    assert groups[0].note is not None
    assert groups[0].note.startswith("merged rcneeds, rcalpha: ")
    assert "rcalpha" in groups[0].note.split(": ", 1)[1]  # the resolver's reason
