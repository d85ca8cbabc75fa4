"""Crash-safety harness: run a scenario of escrow operations in a child process, SIGKILL it at a
named crash point, restart, and check that the escrow is consistent.

A scenario is a YAML file:

    name: store basics
    plugins: [../lifecycle/crash_steps.py]    # optional, relative to the YAML file
    skip_checks: [releases]                   # optional, names of CHECKS to skip
    steps:
      - agent: {name: bank1, display: First Bank}
      - data_add: {key: bank1.train, as: bank1, csv: "x,y\\n1,2\\n"}
      - state: {scope: app, key: k, value: [1, 2]}

Each step names a handler in `STEPS`. Handlers get (ctx, args, work) where ctx is an
`EscrowContext` (store, storage, audit, config), args the step's mapping and work a scratch
directory; they MUST be idempotent (skip work already done), because after a crash the whole
scenario runs again from the start ("restart"). An optional expectation for a step, registered
with `@expect(name)`, returns problems when the step's effect is not (exactly once) present.

A plugin file defines `register(h)` where `h` is this module: use `@h.step("propose")`,
`@h.expect("propose")` and `@h.check` (extra consistency checks `(ctx) -> list[str]`).

Crash points are labels passed to `crash_point()` in the runtime (tx.begin, tx.commit,
tx.committed, store.<method>, audit.append, storage.written, storage.replaced, storage.collect,
keys.written, keys.linked, migrate.vN, execute.claimed/started/before_release/files_written/
commit/committed/published, recover.interrupted/published). Opening the escrow runs its
recovery (`runtime/escrow/recovery.py`), so the checks see the escrow as its next user would. `enumerate_points` runs a scenario once with DSC_CRASH_TRACE to list
every (label, n) reached; `crash_once` runs it with DSC_CRASH_AT=label:n.
"""

from __future__ import annotations

import contextlib
import importlib.util
import shutil
import tempfile
import json
import os
import random
import sqlite3
import subprocess
import sys
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pyarrow.csv  # noqa: F401  (imported once here so forked children do not pay for it)
import yaml

from datastation.runtime.audit import verify_log
from datastation.runtime.config import Config, config_from_dict
from datastation.runtime.storage import StorageError
from datastation.runtime import crashpoints
from datastation.runtime.escrow import Escrow
from datastation.runtime.escrow.context import EscrowContext, data_about, open_escrow
from datastation.runtime.escrow.data import add_data, data_add_params, remove_data

Handler = Callable[[EscrowContext, dict, Path], None]
Expectation = Callable[[EscrowContext, dict, Path], list]
Check = Callable[[EscrowContext], list]

STEPS: dict[str, Handler] = {}
EXPECT: dict[str, Expectation] = {}
CHECKS: dict[str, Check] = {}
DRIVER = Path(__file__).with_name("crash_driver.py")


def step(name: str):
    def deco(fn: Handler) -> Handler:
        STEPS[name] = fn
        return fn
    return deco


RESOURCE: dict[str, Callable[[dict], Any]] = {}


def expect(name: str, resource: Callable[[dict], Any] | None = None):
    """Register what must hold once step `name` finished. `resource(args)` names what the step
    changes: only the last finished step per resource is checked (a later step may undo it)."""
    def deco(fn: Expectation) -> Expectation:
        EXPECT[name] = fn
        if resource is not None:
            RESOURCE[name] = resource
        return fn
    return deco


def check(fn: Check) -> Check:
    CHECKS[fn.__name__] = fn
    return fn


# ------------------------------------------------------------------ scenarios


@dataclass
class Scenario:
    name: str
    path: Path
    steps: list[tuple[str, dict]]
    skip_checks: set[str] = field(default_factory=set)


_loaded_plugins: set[Path] = set()


def load_scenario(path: str | os.PathLike) -> Scenario:
    path = Path(path).resolve()
    raw = yaml.safe_load(path.read_text())
    for plugin in raw.get("plugins") or []:
        _load_plugin((path.parent / plugin).resolve())
    steps = []
    for item in raw["steps"]:
        ((kind, args),) = item.items()
        if kind not in STEPS:
            raise ValueError(f"{path.name}: unknown step {kind!r} (known: {', '.join(sorted(STEPS))})")
        steps.append((kind, args or {}))
    return Scenario(raw.get("name", path.stem), path, steps, set(raw.get("skip_checks") or []))


def _load_plugin(path: Path) -> None:
    if path in _loaded_plugins:
        return
    spec = importlib.util.spec_from_file_location(f"crash_plugin_{len(_loaded_plugins)}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.register(sys.modules[__name__])
    _loaded_plugins.add(path)


def make_config(root: Path) -> Config:
    # synchronous=NORMAL: in WAL mode a *process* crash loses nothing with it (only power loss
    # would), and it keeps the harness fast. Set DSC_CRASH_SYNC=FULL to test the default.
    sync = os.environ.get("DSC_CRASH_SYNC", "NORMAL")
    return config_from_dict({"store": {"synchronous": sync}}, root).with_root(root / "escrow", keyring=root / "keyring")


def sign_request_as(ctx: EscrowContext, agent: str, action: str, params: dict):
    """A request for this escrow signed by `agent` with its key from the keyring (the client side)."""
    return Escrow(ctx).sign_as(agent, action, params)


def run_scenario(scenario: Scenario, root: Path, progress: Path | None = None, start: int = 0) -> None:
    """Run the steps from `start` on (in this process). `progress` gets one fsync'd line per finished step."""
    work = root / "work"
    work.mkdir(parents=True, exist_ok=True)
    with open_escrow(make_config(root)) as ctx:
        for i, (kind, args) in enumerate(scenario.steps):
            if i < start:
                continue
            STEPS[kind](ctx, args, work)
            if progress is not None:
                with open(progress, "a") as fh:
                    fh.write(f"{i}\n")
                    fh.flush()
                    os.fsync(fh.fileno())


# ------------------------------------------------------------------ child processes


def _child(scenario: Scenario, root: Path, env: dict[str, str], progress: Path | None, start: int) -> None:
    """Body of a forked child: never returns."""
    code = 0
    try:
        os.environ.update(env)
        crashpoints.reset()
        run_scenario(scenario, root, progress, start)
    except BaseException:
        traceback.print_exc()
        code = 3
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def run_child(scenario: Scenario, root: Path, env: dict[str, str] | None = None, *,
              progress: Path | None = None, start: int = 0, mode: str = "fork") -> int:
    """Run the scenario (from step `start`) in a child process; returns its exit status
    (-9 when SIGKILLed). mode "fork" reuses this interpreter's imports; "exec" starts
    crash_driver.py in a fresh interpreter."""
    env = {"DSC_CRASH_AT": "", "DSC_CRASH_TRACE": "", **(env or {})}
    if mode == "exec" or not hasattr(os, "fork"):
        cmd = [sys.executable, str(DRIVER), str(scenario.path), str(root), "--start", str(start)]
        if progress is not None:
            cmd += ["--progress", str(progress)]
        return subprocess.run(cmd, env={**os.environ, **env}).returncode
    pid = os.fork()
    if pid == 0:
        _child(scenario, root, env, progress, start)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def enumerate_points(scenario: Scenario, root: Path) -> list[tuple[str, int]]:
    """Every (label, n) crash point a clean run of the scenario reaches, in order."""
    trace = root / "trace.txt"
    rc = run_child(scenario, root / "trace-run", {"DSC_CRASH_TRACE": str(trace)})
    if rc != 0:
        raise AssertionError(f"clean run of {scenario.name} failed (exit {rc})")
    seen: Counter[str] = Counter()
    points = []
    for label in trace.read_text().split():
        seen[label] += 1
        points.append((label, seen[label]))
    return points


def select_points(points: list[tuple[str, int]], sample: int | None, seed: int = 0,
                  include_last: bool = False) -> list[tuple[str, int]]:
    """All points (sample None, or env DSC_CRASH_EXHAUSTIVE=1), else each label's first (and
    with include_last, last) occurrence plus `sample` others drawn with a fixed seed."""
    if sample is None or os.environ.get("DSC_CRASH_EXHAUSTIVE"):
        return points
    firsts, lasts = {}, {}
    for label, n in points:
        firsts.setdefault(label, (label, n))
        lasts[label] = (label, n)
    chosen = set(firsts.values()) | (set(lasts.values()) if include_last else set())
    rest = [p for p in points if p not in chosen]
    chosen |= set(random.Random(seed).sample(rest, min(sample, len(rest))))
    return [p for p in points if p in chosen]


@dataclass
class CrashReport:
    point: tuple[str, int]
    exit_code: int
    problems_after_crash: list[str]
    problems_after_restart: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems_after_crash and not self.problems_after_restart


def crash_once(scenario: Scenario, root: Path, point: tuple[str, int], mode: str = "fork") -> CrashReport:
    """Kill a run at `point`, check consistency, restart (retrying the interrupted step, then the
    rest), check again."""
    progress = root / "progress.txt"
    label, n = point
    rc = run_child(scenario, root, {"DSC_CRASH_AT": f"{label}:{n}"}, progress=progress, mode=mode)
    problems = [] if rc == -9 else [f"expected SIGKILL at {label}:{n}, child exited with {rc}"]
    done = [int(x) for x in progress.read_text().split()] if progress.exists() else []
    problems += check_consistency(scenario, root, done_steps=done)
    rc2 = run_child(scenario, root, start=len(done), mode=mode)
    after = [] if rc2 == 0 else [f"restart failed (exit {rc2})"]
    after += check_consistency(scenario, root, done_steps=range(len(scenario.steps)))
    return CrashReport(point, rc, problems, after)


# ------------------------------------------------------------------ consistency


def check_consistency(scenario: Scenario, root: Path, done_steps=()) -> list[str]:
    """Problems found in the escrow under `root` (empty when consistent).

    Runs every check in CHECKS (minus the scenario's skip_checks), then the expectation of every
    step in `done_steps` (steps the child reported finished before dying: they must have survived).
    The step after the last done one may have committed without being reported: resources it
    touches are not checked.
    """
    config = make_config(root)
    if not config.store.path.exists():
        return []  # killed before the database existed: nothing to be consistent about
    problems = _sqlite_integrity(config.store.path)
    if problems:
        return problems
    with open_escrow(config) as ctx:
        for name, fn in CHECKS.items():
            if name not in scenario.skip_checks:
                problems += [f"[{name}] {p}" for p in fn(ctx)]
        work = root / "work"
        done = sorted(set(done_steps))
        in_flight = (done[-1] + 1) if done else 0
        if in_flight < len(scenario.steps):
            kind, args = scenario.steps[in_flight]
            maybe = {RESOURCE[kind](args)} if kind in RESOURCE else set()
        else:
            maybe = set()
        last: dict[Any, int] = {}
        for i in done:
            kind, args = scenario.steps[i]
            if kind in RESOURCE:
                last[RESOURCE[kind](args)] = i
        for i in done:
            kind, args = scenario.steps[i]
            if kind in RESOURCE and (last[RESOURCE[kind](args)] != i or RESOURCE[kind](args) in maybe):
                continue  # superseded by a later (maybe in-flight) step on the same resource
            if kind in EXPECT:
                problems += [f"[step {i} {kind}] {p}" for p in EXPECT[kind](ctx, args, work)]
    return problems


def _sqlite_integrity(path: Path) -> list[str]:
    db = sqlite3.connect(path)
    try:
        if db.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            return ["sqlite integrity_check failed"]
        bad = db.execute("PRAGMA foreign_key_check").fetchall()
        return [f"dangling foreign key: {row}" for row in bad]
    except sqlite3.DatabaseError as exc:
        return [f"database unreadable: {exc}"]
    finally:
        db.close()


@check
def audit_chain(ctx: EscrowContext) -> list[str]:
    result = verify_log(ctx.store, ctx.escrow_key.public_key())
    return [] if result.ok else [result.describe()]


@check
def private_keys(ctx: EscrowContext) -> list[str]:
    """Private keys only where they belong, whole: the escrow's own key in the escrow directory,
    agents' keys in their keyring outside it; no temporary file holding a key, whatever the crash."""
    from datastation.runtime.keyfile import KeysError, decrypt_private_key

    root = ctx.config.escrow_dir.parent
    allowed = {ctx.config.escrow_key_path.resolve()}
    problems = []
    for p in sorted(root.rglob("*")):
        if not p.is_file() or b"PRIVATE KEY" not in p.read_bytes():
            continue
        resolved = p.resolve()
        if resolved not in allowed and not (resolved.parent == Path(ctx.config.keyring_path).resolve()
                                             and p.suffix == ".pem"):
            problems.append(f"{p.relative_to(root)} holds a private key")
            continue
        try:
            decrypt_private_key(p.read_bytes(), None)
        except KeysError as exc:
            problems.append(f"{p.relative_to(root)} is not a whole key: {exc}")
    return problems


@check
def data_files(ctx: EscrowContext) -> list[str]:
    problems = []
    for row in ctx.store.list_data():
        try:
            ctx.storage.get(row.owner, row.content_hash)
        except StorageError as exc:
            problems.append(f"{row.key}: {exc}")
    return problems


@check
def releases(ctx: EscrowContext) -> list[str]:
    import hashlib

    problems = []
    for rel in ctx.store.releases():
        p = Path(rel.path)
        if not p.is_file():
            problems.append(f"release of {rel.contract_id[:12]} to {rel.recipient}: {p} is missing")
        elif hashlib.sha256(p.read_bytes()).hexdigest() != rel.content_hash:
            problems.append(f"release of {rel.contract_id[:12]} to {rel.recipient}: {p} is half-written or changed")
    return problems


def _events(ctx: EscrowContext, kinds: set[str]):
    return [e for e in ctx.store.audit_entries() if e.kind in kinds]


@check
def agents_match_audit(ctx: EscrowContext) -> list[str]:
    created = Counter(e.payload.get("agent") for e in _events(ctx, {"agent_created"}))
    agents = {a.name for a in ctx.store.list_agents()}
    problems = [f"agent {a} has no agent_created entry" for a in agents if created[a] == 0]
    problems += [f"agent_created entry for {a} but no agent row" for a in created if a not in agents]
    problems += [f"agent {a} created {n} times" for a, n in created.items() if n > 1]
    return problems


@check
def data_match_audit(ctx: EscrowContext) -> list[str]:
    last: dict[str, Any] = {}
    for e in _events(ctx, {"data_add", "data_replace", "data_remove"}):
        last[e.payload.get("key")] = e
    problems = []
    rows = {r.key: r for r in ctx.store.list_data() if not r.derived}
    for key, row in rows.items():
        e = last.get(key)
        if e is None or e.kind == "data_remove":
            problems.append(f"{key} is stored but its last audit entry is {e.kind if e else 'missing'}")
        elif not ctx.mac_matches(e.payload, "content", row.content_hash, about=data_about(key)):
            problems.append(f"{key}: stored contents differ from the audited ones")
    for key, e in last.items():
        if e.kind != "data_remove" and key not in rows:
            problems.append(f"{key} was audited as {e.kind} but is not stored")
    return problems


@check
def state_match_audit(ctx: EscrowContext) -> list[str]:
    last: dict[tuple[str, str], Any] = {}
    for e in _events(ctx, {"app_state"}):
        last[(e.payload.get("scope"), e.payload.get("key"))] = e.payload.get("value")
    problems = []
    for (scope, key), value in last.items():
        if ctx.store.get_state(scope, key, _MISSING) != value:
            problems.append(f"state {scope}/{key} differs from its audit entry")
    for scope in {s for s, _ in last} | {"batch"}:
        for key, value in ctx.store.list_state(scope).items():
            if (scope, key) not in last:
                problems.append(f"state {scope}/{key} has no audit entry")
    return problems


_MISSING = object()


# ------------------------------------------------------------------ built-in steps


@step("agent")
def _agent(ctx, args, work):
    if ctx.store.get_agent(args["name"]) is None:
        Escrow(ctx).create_agent(args["name"], args.get("display", ""), passphrase=None)


@expect("agent")
def _agent_expect(ctx, args, work):
    return [] if ctx.store.get_agent(args["name"]) else [f"agent {args['name']} lost"]


def _contents(args) -> bytes:
    return (args.get("csv") or "").encode()


@step("data_add")
def _data_add(ctx, args, work):
    contents = _contents(args)
    row = ctx.store.get_data(args["key"])
    from datastation.runtime.storage import sha256_hex

    if row is not None and row.content_hash == sha256_hex(contents):
        return
    req = sign_request_as(ctx, args["as"], "data.add",
                          data_add_params(args["key"], "csv", contents, args.get("declared_schema"),
                                          replace=row is not None))
    add_data(ctx, req, contents)


@expect("data_add", resource=lambda a: ("data", a["key"]))
def _data_add_expect(ctx, args, work):
    return [] if ctx.store.get_data(args["key"]) else [f"{args['key']} lost"]


@step("data_remove")
def _data_remove(ctx, args, work):
    if ctx.store.get_data(args["key"]) is not None:
        remove_data(ctx, sign_request_as(ctx, args["as"], "data.remove", {"key": args["key"]}))


@expect("data_remove", resource=lambda a: ("data", a["key"]))
def _data_remove_expect(ctx, args, work):
    return [f"{args['key']} still stored"] if ctx.store.get_data(args["key"]) else []


@step("state")
def _state(ctx, args, work):
    """A generic state change and its audit entry, in one transaction."""
    scope, key, value = args["scope"], args["key"], args["value"]
    with ctx.store.transaction():
        if ctx.store.get_state(scope, key, _MISSING) == value:
            return
        ctx.store.set_state(scope, key, value)
        ctx.audit.append("app_state", actor=args.get("as"), payload={"scope": scope, "key": key, "value": value})


@expect("state", resource=lambda a: ("state", a["scope"], a["key"]))
def _state_expect(ctx, args, work):
    ok = ctx.store.get_state(args["scope"], args["key"], _MISSING) == args["value"]
    return [] if ok else [f"state {args['scope']}/{args['key']} lost"]


@step("batch")
def _batch(ctx, args, work):
    """Many writes in ONE transaction (scope 'batch'): after a crash all or none are present."""
    n, tag = int(args["n"]), args["tag"]
    with ctx.store.transaction():
        if ctx.store.get_state("batch", f"{tag}-0", _MISSING) is not _MISSING:
            return
        for i in range(n):
            ctx.store.set_state("batch", f"{tag}-{i}", i)
            ctx.audit.append("app_state", payload={"scope": "batch", "key": f"{tag}-{i}", "value": i})


@expect("batch")
def _batch_expect(ctx, args, work):
    have = sum(ctx.store.get_state("batch", f"{args['tag']}-{i}", _MISSING) is not _MISSING for i in range(int(args["n"])))
    return [] if have == int(args["n"]) else [f"batch {args['tag']}: {have} of {args['n']} writes present"]


@check
def batches_all_or_nothing(ctx: EscrowContext) -> list[str]:
    tags = Counter(k.rsplit("-", 1)[0] for k in ctx.store.list_state("batch"))
    sizes = {k: v for k, v in tags.items()}
    # A batch is complete when it has as many keys as its largest index + 1 and no gaps.
    problems = []
    for tag, count in sizes.items():
        keys = {int(k.rsplit("-", 1)[1]) for k in ctx.store.list_state("batch") if k.rsplit("-", 1)[0] == tag}
        if keys != set(range(count)):
            problems.append(f"batch {tag} is partial: {sorted(keys)}")
    return problems


@contextlib.contextmanager
def scratch_dir(prefix: str = "dsc-crash-"):
    """A temporary directory, on tmpfs (/dev/shm) when available: SIGKILL semantics do not depend
    on fsync, and skipping real disk flushes makes many crash runs affordable."""
    shm = Path("/dev/shm")
    base = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def dump(root: Path) -> str:
    """Human dump of an escrow (for failure messages)."""
    with open_escrow(make_config(root)) as ctx:
        return json.dumps({
            "agents": [a.name for a in ctx.store.list_agents()],
            "data": {d.key: d.content_hash[:8] for d in ctx.store.list_data()},
            "audit": [f"{e.seq} {e.kind} {e.payload.get('key', '')}" for e in ctx.store.audit_entries()],
        }, indent=1)
