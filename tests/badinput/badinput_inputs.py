"""Bad inputs other than run artifacts: fingerprint files, policies, lockfiles, scenario
names, output targets, for every command that reads them."""

from __future__ import annotations

import os
from typing import Any

from badinput_artifacts import CUTS, _cut, flip_structural
from badinput_harness import LOCK_HASH, Table, Workspace, click_version


def fingerprint_file_cases(table: Table) -> None:
    f = "fp_cand.json"

    def fp(change: Any) -> Any:
        def make(ws: Workspace) -> list[str]:
            change(ws)
            return ["compare", str(ws.fp_base), str(ws.fp_cand)]

        return make

    def write(data: bytes) -> Any:
        return fp(lambda ws: ws.fp_cand.write_bytes(data))

    def edit(change: Any) -> Any:
        return fp(lambda ws: ws.edit_json(ws.fp_cand, change))

    table.error("compare/fingerprint-missing", fp(lambda ws: ws.fp_cand.unlink()), f, "not exist")
    table.error("compare/fingerprint-empty", write(b""), f, "empty")
    for at in CUTS:
        table.error(
            f"compare/fingerprint-truncated-at-{at}",
            fp(lambda ws, a=at: ws.fp_cand.write_bytes(_cut(ws.fp_cand.read_bytes(), a))),
            f,
        )
    for seed in (1, 2):
        table.error(
            f"compare/fingerprint-bit-flip-seed{seed}",
            fp(
                lambda ws, s=seed: ws.fp_cand.write_bytes(
                    flip_structural(ws.fp_cand.read_bytes(), s)
                )
            ),
            f,
        )
    table.error("compare/fingerprint-not-utf8", write(b'{"a": "\xff"}'), f, "UTF-8")
    table.error("compare/fingerprint-top-level-list", write(b"[]"), f, "object")
    table.error("compare/fingerprint-nan-token", write(b'{"torch": NaN}'), f, "NaN")
    table.error("compare/fingerprint-deep-nesting", write(b"[" * 100_000 + b"]" * 100_000), f)
    table.error("compare/fingerprint-lone-surrogate", write(b'{"kind": "\\ud800"}'), f, "Unicode")
    table.error(
        "compare/fingerprint-schema-newer",
        edit(lambda d: d.__setitem__("schema_version", 2)),
        f,
        "newer",
    )
    table.error(
        "compare/fingerprint-schema-older",
        edit(lambda d: d.__setitem__("schema_version", 0)),
        f,
        "older",
    )
    table.error(
        "compare/fingerprint-kind-missing", edit(lambda d: d.__delitem__("kind")), f, "kind"
    )
    table.error(
        "compare/fingerprint-section-wrong-type",
        edit(lambda d: d.__setitem__("cpu", [1])),
        f,
        "'cpu'",
    )
    table.error(
        "compare/fingerprint-env-value-not-string",
        edit(lambda d: d["env"].__setitem__("OMP_NUM_THREADS", 4)),
        f,
        "env",
    )
    table.error(
        "compare/fingerprint-huge-sparse",
        fp(lambda ws: os.truncate(ws.fp_cand, 2**31)),
        f,
        "too large",
        huge=True,
    )
    table.error(
        "compare/fingerprint-against-run",
        lambda ws: ["compare", str(ws.fp_base), str(ws.cand)],
        "cannot compare a fingerprint",
    )


def policy_cases(table: Table) -> None:
    p = "policy.toml"

    def policy(text: bytes) -> Any:
        def make(ws: Workspace) -> list[str]:
            ws.policy.write_bytes(text)
            return ws.compare("--policy", str(ws.policy))

        return make

    tol = b"[dtypes.float32]\nrtol = %s\natol = 0\n"
    table.error(
        "compare/policy-missing",
        lambda ws: ws.compare("--policy", str(ws.root / "absent.toml")),
        "absent.toml",
        "not found",
    )
    table.error(
        "compare/policy-directory",
        lambda ws: ws.compare("--policy", str(ws.root)),
        "is a directory",
    )
    table.error(
        "compare/policy-fifo",
        lambda ws: (
            ws.policy.unlink(),
            os.mkfifo(ws.policy),
            ws.compare("--policy", "policy.toml"),
        )[-1],
        p,
        "not a regular file",
    )
    table.error("compare/policy-not-utf8", policy(b'preset = "\xff"\n'), p, "invalid TOML")
    table.error("compare/policy-invalid-toml", policy(b"preset = \n"), p, "invalid TOML")
    table.error("compare/policy-truncated", _truncated_policy, p, "invalid TOML")
    table.error("compare/policy-unknown-key", policy(b'presett = "loose"\n'), p, "'presett'")
    table.error("compare/policy-unknown-preset", policy(b'preset = "tight"\n'), p, "'tight'")
    table.error("compare/policy-preset-not-string", policy(b"preset = 3\n"), p, "'preset'")
    table.error("compare/policy-negative", policy(tol % b"-1"), p, ">= 0")
    table.error("compare/policy-nan", policy(tol % b"nan"), p, "finite")
    table.error("compare/policy-inf", policy(tol % b"inf"), p, "finite")
    table.error("compare/policy-400-digit-integer", policy(tol % (b"9" * 400)), p, "finite")
    table.error("compare/policy-5000-digit-integer", policy(tol % (b"9" * 5000)), p, "limit")
    table.error("compare/policy-rtol-string", policy(tol % b'"1e-5"'), p, "number")
    table.error(
        "compare/policy-deep-nesting", policy(b"a = " + b"[" * 5000 + b"]" * 5000), p, "deeply"
    )
    table.error(
        "compare/policy-unknown-dtype",
        policy(b"[dtypes.float99]\nrtol = 1\natol = 1\n"),
        p,
        "float99",
    )
    table.error("compare/policy-atol-missing", policy(b"[dtypes.float32]\nrtol = 1\n"), p, "atol")
    table.error("compare/policy-tensor-not-array", policy(b"tensor = 1\n"), p, "'tensor'")
    table.error(
        "compare/policy-tensor-without-match",
        policy(b"[[tensor]]\nrtol = 1\natol = 1\n"),
        p,
        "'match'",
    )

    def pyproject(text: bytes) -> Any:
        def make(ws: Workspace) -> list[str]:
            (ws.root / "pyproject.toml").write_bytes(text)
            return ws.compare()

        return make

    pp = "pyproject.toml"
    table.error("compare/pyproject-invalid-toml", pyproject(b"[tool.reprocheck\n"), pp, "TOML")
    table.error(
        "compare/pyproject-section-not-table",
        pyproject(b"[tool]\nreprocheck = 1\n"),
        pp,
        "must be a table",
    )
    table.error(
        "compare/pyproject-bad-preset", pyproject(b'[tool.reprocheck]\npreset = "x"\n'), pp, "'x'"
    )
    table.error(
        "compare/pyproject-unknown-key",
        pyproject(b"[tool.reprocheck]\ntolerance = 1\n"),
        pp,
        "'tolerance'",
    )


def _truncated_policy(ws: Workspace) -> list[str]:
    raw = ws.policy.read_bytes()
    ws.policy.write_bytes(raw[: raw.index(b"[[tensor]]") + 5])
    return ws.compare("--policy", str(ws.policy))


def output_cases(table: Table) -> None:
    def out(target: Any, *before: str) -> Any:
        return lambda ws: (
            [*before, "-o", str(target(ws))] if before else ws.compare("-o", str(target(ws)))
        )

    table.error("compare/output-is-a-directory", out(lambda ws: ws.root), "is a directory")
    table.error(
        "compare/output-parent-missing", out(lambda ws: ws.root / "no" / "r.txt"), "does not exist"
    )
    table.error(
        "compare/output-parent-is-a-file", out(lambda ws: ws.fp_base / "r.txt"), "fp_base.json"
    )
    table.error(
        "compare/output-json-is-a-directory",
        lambda ws: ws.compare("--format", "json", "-o", str(ws.cand)),
        "is a directory",
    )
    table.error(
        "fingerprint/output-is-a-directory",
        lambda ws: ["fingerprint", "-o", str(ws.root)],
        "is a directory",
    )
    table.error(
        "fingerprint/output-parent-missing",
        lambda ws: ["fingerprint", "--format", "json", "-o", str(ws.root / "no" / "fp.json")],
        "does not exist",
    )
    table.error(
        "determinism/output-is-a-directory",
        lambda ws: [
            "determinism",
            "mlp",
            "--steps",
            "1",
            "--repeats",
            "2",
            "--no-fresh-process",
            "-o",
            str(ws.root),
        ],
        "is a directory",
    )
    table.error(
        "lock/verify-output-is-a-directory",
        lambda ws: _matching_lock(ws, "-o", str(ws.root)),
        "is a directory",
    )


def _matching_lock(ws: Workspace, *extra: str) -> list[str]:
    ws.lockfile.write_text(f"click=={click_version()}\n", encoding="utf-8")
    return ["lock", "--verify", str(ws.lockfile), *extra]


def lockfile_cases(table: Table) -> None:
    f = "env.txt"

    def lock(data: bytes) -> Any:
        def make(ws: Workspace) -> list[str]:
            ws.lockfile.write_bytes(data)
            return ["lock", "--verify", str(ws.lockfile)]

        return make

    pin = f"click=={click_version()}".encode()
    hashed = pin + f" \\\n    --hash={LOCK_HASH}\n".encode()
    table.error(
        "lock/verify-missing",
        lambda ws: ["lock", "--verify", str(ws.root / "gone.txt")],
        "gone.txt",
    )
    table.error(
        "lock/verify-directory", lambda ws: ["lock", "--verify", str(ws.root)], "Is a directory"
    )
    table.error(
        "lock/verify-fifo",
        lambda ws: (
            ws.lockfile.unlink(),
            os.mkfifo(ws.lockfile),
            ["lock", "--verify", str(ws.lockfile)],
        )[-1],
        f,
        "not a regular file",
    )
    table.error("lock/verify-empty", lock(b""), f, "pins no packages")
    table.error("lock/verify-comments-only", lock(b"# nothing pinned\n"), f, "pins no packages")
    table.error("lock/verify-not-utf8", lock(b"\xff\xfeclick==1\n"), f, "UTF-8")
    table.error("lock/verify-nul-byte", lock(pin + b"\x00\n"), f, "control character")
    table.error("lock/verify-truncated-mid-hash", lock(hashed[:-9]), f, "newline")
    table.error("lock/verify-truncated-after-backslash", lock(pin + b" \\\n"), f, "continued line")
    table.error("lock/verify-truncated-mid-name", lock(hashed + b"numpy==2"), f, "newline")
    table.error("lock/verify-half-hashed", lock(hashed + b"numpy==2.0\n"), f, "no --hash")
    table.error("lock/verify-unpinned", lock(b"click>=8\n"), f, "not pinned")
    table.error("lock/verify-includes-file", lock(b"-r base.txt\n"), f, "include")
    table.error("lock/verify-editable", lock(b"-e .\n"), f, "not pinned")
    table.error("lock/verify-url", lock(b"click @ https://example.org/c.whl\n"), f, "not pinned")
    table.error("lock/verify-pinned-twice", lock(pin + b"\n" + pin + b"\n"), f, "twice")
    table.error("lock/verify-hash-no-colon", lock(pin + b" --hash=abc\n"), f, "malformed hash")
    table.error(
        "lock/verify-hash-unknown-algorithm",
        lock(pin + b" --hash=sha999:ab\n"),
        f,
        "malformed hash",
    )
    table.error(
        "lock/verify-hash-not-hex", lock(pin + b" --hash=sha256:xyz\n"), f, "malformed hash"
    )
    table.error("lock/verify-option-on-pin", lock(pin + b" --no-binary\n"), f, "not allowed")
    for at in (3, 0.5):
        table.error(
            f"lock/verify-truncated-at-{at}",
            lambda ws, a=at: _truncated_lock(ws, a),
            f,
        )


def _truncated_lock(ws: Workspace, at: float) -> list[str]:
    ws.lockfile.write_bytes(_cut(ws.lockfile.read_bytes(), at))
    return ["lock", "--verify", str(ws.lockfile)]


def lock_compile_cases(table: Table) -> None:
    """`reprocheck lock` refuses these before pip-compile runs (so nothing is written)."""

    def lock(*args: Any) -> Any:
        return lambda ws: ["lock", *[a(ws) if callable(a) else a for a in args]]

    out = lambda ws: str(ws.root)  # noqa: E731
    table.error("lock/env-name-path", lock("--env", "../evil", "--pin", "click"), "'../evil'")
    table.error("lock/env-name-empty", lock("--env", "", "--pin", "click"), "environment name")
    table.error("lock/pin-option", lock("--env", "a", "--pin", "-r x.txt"), "is not a requirement")
    table.error("lock/pin-newline", lock("--env", "a", "--pin", "click\n-r x"), "not a requirement")
    table.error("lock/pin-before-env", lock("--pin", "click", "--env", "a"), "before any --env")
    table.error("lock/env-twice", lock("--env", "a", "--env", "a"), "named twice")
    table.error("lock/no-env", lock("--output-dir", out), "no environment")
    table.error(
        "lock/requirements-missing",
        lock(
            "--env", "a", "--requirements", lambda ws: str(ws.root / "req.in"), "--output-dir", out
        ),
        "req.in",
        "does not exist",
    )
    table.error(
        "lock/requirements-directory",
        lock("--env", "a", "--requirements", out, "--output-dir", out),
        "is not a file",
    )
    table.error(  # a missing output directory is created, but not under a file
        "lock/output-dir-under-a-file",
        lock("--env", "a", "--output-dir", lambda ws: str(ws.lockfile / "lockfiles")),
        "cannot create output directory",
        "lockfiles",
    )
    table.error(
        "lock/output-dir-is-a-file",
        lock("--env", "a", "--output-dir", lambda ws: str(ws.lockfile)),
        "env.txt",
        "not a directory",
    )
    table.error(
        "lock/verify-with-env",
        lambda ws: ["lock", "--verify", str(ws.lockfile), "--env", "a"],
        "cannot be combined",
    )


def scenario_name_cases(table: Table) -> None:
    """Names `run` and `determinism` cannot resolve; refused before any replay."""
    names: list[tuple[str, list[str], tuple[str, ...]]] = [
        ("unknown", ["nosuch"], ("'nosuch'",)),
        ("missing-module", ["nosuchmod_rc:build"], ("nosuchmod_rc",)),
        ("not-a-function", ["os:path"], ("not a function",)),
        ("malformed", [":build"], ("module:function",)),
        ("empty", [""], ("unknown scenario",)),
        ("path-like", ["../mlp"], ("'../mlp'",)),
        ("non-utf8", ["ml\udcffp"], ("unknown scenario",)),
        ("named-twice", ["mlp", "mlp"], ("named twice",)),
        ("typo-after-good", ["mlp", "nosuch"], ("'nosuch'",)),
    ]
    for label, args, fragments in names:
        table.error(
            f"run/scenario-{label}",
            lambda ws, a=args: ["run", *a, "--steps", "1", "--out", str(ws.root / "r")],
            *fragments,
        )
        table.error(
            f"determinism/scenario-{label}",
            lambda ws, a=args: ["determinism", *a, "--steps", "1", "--no-fresh-process"],
            *fragments,
        )

    def user_module(body: str, name: str) -> Any:
        def make(ws: Workspace) -> list[str]:
            (ws.root / f"{name}.py").write_text(body, encoding="utf-8")
            return ["run", f"{name}:build", "--steps", "1", "--out", str(ws.root / "r")]

        return make

    table.error(
        "run/scenario-returns-wrong-type",
        user_module("def build(ctx):\n    return 5\n", "badinput_returns_int"),
        "returned int",
    )
    table.error(
        "run/scenario-build-raises",
        user_module("def build(ctx):\n    raise ValueError('no data')\n", "badinput_raises"),
        "ValueError: no data",
    )
    table.error(
        "run/scenario-module-syntax-error",
        user_module("def build(ctx)\n    pass\n", "badinput_syntax"),
        "badinput_syntax",
    )


def run_target_cases(table: Table) -> None:
    def run(out: Any, *extra: str) -> Any:
        return lambda ws: ["run", "mlp", "--steps", "1", "--out", str(out(ws)), *extra]

    table.error("run/out-is-a-file", run(lambda ws: ws.lockfile), "env.txt", "not a directory")
    table.error(
        "run/out-parent-is-a-file", run(lambda ws: ws.lockfile / "no" / "run"), "not a directory"
    )
    table.error("run/out-not-empty", run(lambda ws: ws.base), "not empty")
    table.error(
        "run/lockfile-missing",
        lambda ws: [
            "run",
            "mlp",
            "--out",
            str(ws.root / "r"),
            "--lockfile",
            str(ws.root / "gone.txt"),
        ],
        "gone.txt",
        "does not exist",
    )
    table.error(
        "run/lockfile-directory",
        lambda ws: ["run", "mlp", "--out", str(ws.root / "r"), "--lockfile", str(ws.root)],
        "not a file",
    )
    table.error(
        "fingerprint/lockfile-missing",
        lambda ws: ["fingerprint", "--lockfile", str(ws.root / "gone.txt")],
        "gone.txt",
    )
    table.error(
        "fingerprint/lockfile-directory",
        lambda ws: ["fingerprint", "--lockfile", str(ws.root)],
        "not a file",
    )
    table.error(
        "fingerprint/lockfile-env-missing",
        lambda ws: ["fingerprint"],
        "gone.txt",
        env={"REPROCHECK_LOCKFILE": "gone.txt"},
    )


def check_cases(table: Table) -> None:
    """`check` reads the baseline (and policy) before replaying anything."""
    table.error(
        "check/baseline-missing",
        lambda ws: ["check", "--baseline", str(ws.root / "nobase")],
        "nobase",
        "does not exist",
    )
    table.error(
        "check/baseline-is-a-file",
        lambda ws: ["check", "--baseline", str(ws.fp_base)],
        "fp_base.json",
    )

    def broken(ws: Workspace) -> list[str]:
        ws.manifest.write_bytes(ws.manifest.read_bytes()[:40])
        return ["check", "--baseline", str(ws.cand)]

    table.error("check/baseline-truncated-manifest", broken, "cand/run.json")

    def evil(ws: Workspace) -> list[str]:
        # check replays scenarios by name on purpose; one that cannot be imported is an error.
        ws.edit_json(ws.manifest, lambda d: d["scenarios"][0].__setitem__("name", "nosuchmod_rc:x"))
        ws.edit_json(ws.record, lambda d: d.__setitem__("name", "nosuchmod_rc:x"))
        return ["check", "--baseline", str(ws.cand)]

    table.error("check/baseline-scenario-not-importable", evil, "nosuchmod_rc")

    def policy(ws: Workspace) -> list[str]:
        ws.policy.write_text('preset = "nope"\n', encoding="utf-8")
        return ["check", "--baseline", str(ws.base), "--policy", str(ws.policy)]

    table.error("check/policy-invalid", policy, "policy.toml", "'nope'")
    table.error(
        "check/out-not-empty",
        lambda ws: ["check", "--baseline", str(ws.base), "--out", str(ws.cand)],
        "not empty",
    )


def calibrate_and_repro_cases(table: Table) -> None:
    """`calibrate` checks its target and scenarios, `repro` its runs, before replaying."""
    table.error(
        "calibrate/out-not-empty",
        lambda ws: ["calibrate", "mlp", "--out", str(ws.cand)],
        "not empty",
    )
    table.error(
        "calibrate/scenario-not-importable",
        lambda ws: ["calibrate", "nosuchmod_cal:x", "--out", str(ws.root / "cal")],
        "nosuchmod_cal",
    )

    def corrupt_envelope(ws: Workspace) -> list[str]:
        (ws.base / "envelope.json").write_text("{", encoding="utf-8")
        return ["compare", str(ws.base), str(ws.cand)]

    table.error("compare/envelope-truncated", corrupt_envelope, "envelope.json")
    table.error(
        "repro/baseline-missing",
        lambda ws: ["repro", str(ws.root / "nobase"), str(ws.cand), "-o", str(ws.root / "r")],
        "nobase",
    )
    table.error(
        "repro/runs-do-not-diverge",
        lambda ws: ["repro", str(ws.base), str(ws.base), "-o", str(ws.root / "r")],
        "do not diverge",
    )


def build(table: Table) -> None:
    fingerprint_file_cases(table)
    policy_cases(table)
    output_cases(table)
    lockfile_cases(table)
    lock_compile_cases(table)
    scenario_name_cases(table)
    run_target_cases(table)
    check_cases(table)
    calibrate_and_repro_cases(table)
