"""`dsc run FILE [CONTRACT]`: play a whole scenario in a temporary escrow, step by step.

Creates the agents and their keys (development keys: not passphrase-protected, in a temporary
keyring beside the escrow, never inside it and never in your own keyring), stores the data, registers the standing policies,
proposes each contract (or the one named, with the contracts keeping its inputs), collects
approvals (standing policies first, then a prompt on a terminal, or --approve-all /
--approve AGENT), executes, and tells what happened. With --keep DIR the escrow stays in DIR and
the command to go on with it is printed. Exit codes (as for every command): 0 released, 1 a
file with errors or a condition that failed (nothing released), 2 usage or internal error,
3 denied, 4 awaiting approval. With several contracts, the first one that does not complete
decides.
"""

from __future__ import annotations

import sys
import tempfile
from contextlib import nullcontext
from pathlib import Path


from . import common as cs

EXIT_RELEASED, EXIT_CONDITION, EXIT_USAGE = cs.ExitCode.OK, cs.ExitCode.ERRORS, cs.ExitCode.USAGE
EXIT_DENIED, EXIT_AWAITING = cs.ExitCode.DENIED, cs.ExitCode.AWAITING


def e(text: str) -> str:
    """Escape text for rich markup (rich is imported only when `dsc run` runs)."""
    from rich.markup import escape

    return escape(text)


def register(sub) -> None:
    p = sub.add_parser("run", help="play a scenario end to end in a temporary escrow (development mode)",
                       description=__doc__.split("\n\n", 1)[1], formatter_class=__import__("argparse").RawDescriptionHelpFormatter)
    p.add_argument("file", metavar="FILE")
    p.add_argument("contract", nargs="?", metavar="CONTRACT", help="run only this contract (and those keeping its inputs)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--approve-all", action="store_true", help="every source agent approves by hand")
    g.add_argument("--approve", action="append", default=[], metavar="AGENT",
                   help="this agent approves by hand (repeatable); others decide by policy or at the prompt")
    p.add_argument("--keep", "--escrow-dir", dest="escrow_dir", metavar="DIR",
                   help="build the escrow in DIR and keep it, with the agents' development keys in DIR.dev-keys "
                        "(default: both temporary); the command to go on with it is printed at the end")
    p.add_argument("--format", choices=("human", "json"), default="human", help="output format")
    cs.add_config(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from datastation.contracts.loading import load_checked

    if getattr(args, "escrow", None) is not None:
        return _usage("`dsc run` builds an escrow of its own: to keep it, pass --keep DIR (then "
                      "`dsc --escrow DIR ...` acts on it)")
    loaded = load_checked(args.file)
    if not loaded.ok:
        cs.print_diagnostics(loaded)
        return cs.ExitCode.ERRORS
    scenario = loaded.scenario
    if args.contract and args.contract not in scenario.contracts:
        return cs.fail(f"no contract '{args.contract}' in {args.file} "
                       f"(contracts: {', '.join(sorted(scenario.contracts)) or 'none'})")
    order = _order(scenario, args.contract)
    if not order:
        return cs.fail(f"{args.file} has no contract to run")
    if args.escrow_dir:
        root, keys = Path(args.escrow_dir), dev_keyring_of(args.escrow_dir)
        for d, what in ((root, "--escrow-dir"), (keys, "its development keyring")):
            if d.exists() and (not d.is_dir() or any(d.iterdir())):
                return cs.fail(f"{what} {d} is not empty: `dsc run` builds a new escrow, give a new folder")
        root.mkdir(parents=True, exist_ok=True)
        holder = nullcontext(None)
    else:
        holder = tempfile.TemporaryDirectory(prefix="dsc-run-")
    with holder as tmp:
        if tmp is not None:
            root, keys = Path(tmp) / "escrow", Path(tmp) / "dev-keys"
        try:
            return _Play(args, scenario, order, root, keys).play()
        except cs.user_errors() as exc:
            return cs.fail(exc)


def dev_keyring_of(escrow_dir) -> Path:
    """Where `dsc run --escrow-dir DIR` keeps the agents' development keys: `DIR.dev-keys`, beside
    the escrow and never inside it."""
    d = Path(escrow_dir).resolve()
    return d.with_name(d.name + ".dev-keys")


def keep_settings(config, root: Path) -> None:
    """Write `ROOT/data_station_config.yaml` for a kept escrow: the settings it was built with
    (trust mode, executor, Docker limits, KEK), so that `dsc --escrow ROOT ...` (or any command
    run inside ROOT) acts on it with them. The agents' keyring is not part of it."""
    import dataclasses

    import yaml

    from datastation.runtime.config import CONFIG_NAME

    doc = {"escrow_dir": ".", "trust_mode": config.trust_mode, "executor": config.executor,
           "store": {"synchronous": config.store.synchronous},
           "docker": dataclasses.asdict(config.docker),
           "kek": {"file": str(config.kek.file) if config.kek.file else None, "env": config.kek.env},
           "request_window_seconds": config.request_window_seconds}
    (root / CONFIG_NAME).write_text("# written by `dsc run --keep`: the settings this escrow was built with\n"
                                    + yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")


def continue_command(root: Path, keys: Path) -> str:
    """The exact command line that acts on a kept escrow as its agents."""
    import shlex

    return (f"DSC_KEYRING={shlex.quote(str(Path(keys).resolve()))} "
            f"dsc --escrow {shlex.quote(str(Path(root).resolve()))} status")


def _usage(msg: str) -> int:
    return cs.fail(msg, EXIT_USAGE)


def _order(scenario, only: str | None) -> list[str]:
    """Contracts in file order, each after the contracts keeping its inputs."""
    out: list[str] = []

    def visit(name: str, seen: frozenset) -> None:
        if name in out or name in seen:
            return
        c = scenario.contracts[name]
        for key in scenario.inputs(c):
            keeper = scenario.kept.get(key)
            if keeper is not None:
                visit(keeper.name.name, seen | {name})
        out.append(name)

    for name in ([only] if only else list(scenario.contracts)):
        visit(name, frozenset())
    return out


class _Play:
    def __init__(self, args, scenario, order, root: Path, keys: Path):
        self.args, self.scenario, self.order, self.root, self.keys = args, scenario, order, root, keys
        self.config = cs.settings_from(args).with_root(root, keyring=keys)
        self.json = args.format == "json"
        self.con = cs.console()
        if self.json:
            from rich.console import Console

            self.con = Console(file=sys.stderr, quiet=True)
        self.doc: dict = {"file": str(args.file), "escrow": str(root), "dev_keyring": str(keys), "agents": [],
                          "data": [], "policies": [], "contracts": []}
        self.step = 0

    # -- output ----------------------------------------------------------------------
    def head(self, text: str) -> None:
        self.step += 1
        self.con.print(f"\n[bold cyan]{self.step}. {text}[/]")

    def say(self, text: str, indent: int = 1) -> None:
        self.con.print("   " * indent + text)

    def busy(self, text: str):
        return self.con.status(text) if self.con.is_terminal and not self.json else nullcontext()

    # -- the play --------------------------------------------------------------------
    def play(self) -> int:
        from datastation.runtime.escrow import Escrow

        s = self.scenario
        kind = "an escrow kept" if self.args.escrow_dir else "a temporary escrow"
        self.con.print(f"[bold]dsc run {e(str(self.args.file))}[/]: {kind} in {e(str(self.root))} "
                       f"({self.config.trust_mode}, {self.config.executor} executor)")
        if self.args.escrow_dir:
            keep_settings(self.config, self.root)
        with Escrow.open(self.config) as escrow:
            self.escrow = escrow
            self.agents()
            code = self.data()
            if code is not None:
                return code
            self.policies()
            result = EXIT_RELEASED
            for name in self.order:
                code = self.contract(s.contracts[name])
                if code != EXIT_RELEASED and result == EXIT_RELEASED:
                    result = code
            self.finish(result)
            return result

    def agents(self) -> None:
        self.head("Agents: each gets an Ed25519 key pair; the escrow records the public key")
        self.say(f"[dim]development keys, not passphrase-protected, in {e(str(self.keys))} (outside the escrow)[/]")
        for name, a in self.scenario.agents.items():
            display = a.display.value if a.display else ""
            self.escrow.create_agent(name, display, passphrase=None)
            self.say(f"{e(name)}" + (f" ({e(display)})" if display else "") + ": key created")
            self.doc["agents"].append(name)

    def needed_data(self) -> list[str]:
        keys: dict[str, None] = {}
        for name in self.order:
            for k in self.scenario.source_data(self.scenario.contracts[name]):
                keys[k] = None
        return [k for k in self.scenario.data if k in keys]

    def data(self) -> int | None:
        from datastation.runtime.escrow import DATA_ADD
        from datastation.runtime.escrow.data import data_add_params

        self.head("Data: each owner stores its data elements in the escrow (signed by the owner)")
        base = self.scenario.base_dir
        for key in self.needed_data():
            d = self.scenario.data[key]
            path = base / d.path.value
            try:
                contents = path.read_bytes()
            except OSError as exc:
                return cs.fail(f"cannot read {path} for {key}: {exc.strerror or exc}", EXIT_USAGE)
            schema = {c.name.name: c.type.name for c in d.schema} if d.schema else None
            with self.busy(f"storing {key}…"):
                req = self.escrow.sign_as(d.owner.name, DATA_ADD, data_add_params(key, d.format.name, contents, schema))
                row = self.escrow.add_data(req, contents)
            self.say(f"{e(key)}: {e(d.format.name)}, {len(contents):,} bytes, sha256 {row.content_hash[:12]}…, "
                     f"stored by {e(d.owner.name)}" + (" (matches its declared schema)" if schema else ""))
            self.doc["data"].append({"key": key, "content_hash": row.content_hash, "size": len(contents)})
        return None

    def policies(self) -> None:
        from datastation.runtime.escrow import POLICY_APPLY, policy_params

        if not self.scenario.policies:
            return
        self.head("Standing policies: each owner registers its own rules")
        params = policy_params(self.args.file)
        for owner in self.scenario.policies:
            if owner not in self.scenario.agents:
                continue
            res = self.escrow.apply_policy(self.escrow.sign_as(owner, POLICY_APPLY, params))
            self.say(f"{e(owner)}: {len(res.rules)} rule{'s' if len(res.rules) != 1 else ''}")
            for r in res.rules:
                self.say(f"line {r.line}: {e(r.text())}", 2)
            self.doc["policies"].append({"owner": owner, "rules": [r.to_json() for r in res.rules]})

    # -- one contract ----------------------------------------------------------------
    def contract(self, c) -> int:
        from datastation.runtime.escrow import APPROVE, PROPOSE, EscrowRefusal, make_bundle, propose_params

        name = c.name.name
        entry: dict = {"name": name, "approvals": [], "outcome": None}
        self.doc["contracts"].append(entry)
        self.head(f"Contract {e(name)}")
        esc = self.escrow
        try:
            proposal = esc.propose(esc.sign_as(c.by.name, PROPOSE, propose_params(make_bundle(self.args.file), name)))
        except EscrowRefusal as exc:
            self.say(f"[red]the escrow refused the proposal[/]: {e(str(exc))}")
            entry["outcome"] = "refused"
            entry["error"] = str(exc)
            return EXIT_USAGE
        row = proposal.row
        entry["id"] = row.id
        self.say(f"proposed by {e(row.proposer)}, id {row.id[:16]}…")
        cond_only = [k for k in row.inputs if k not in row.meta.get("call_inputs", [])]
        self.say(f"computes {e(row.meta['function'])} on {e(', '.join(row.meta.get('call_inputs', [])))}"
                 + (f" (its conditions also read {e(', '.join(cond_only))})" if cond_only else "") + "; "
                 + (f"result to {e(', '.join(row.recipients))}" if row.recipients else "result released to nobody")
                 + (f"; kept as {e(row.meta['kept_as'])}" if row.meta.get("kept_as") else ""))
        self.say(f"must be approved by the owners of its data: {e(', '.join(row.source_agents)) or 'nobody'}")
        for d in proposal.decisions:
            color = "green" if d.effect == "allow" else "red"
            self.say(f"[{color}]{e(cs.describe_decision(d))}[/]")
            entry["approvals"].append({"agent": d.owner, "how": "policy", "effect": d.effect, "policy": d.rule})
        row = esc.store.get_contract(row.id)
        if row.status == "denied":
            self.say("[red]denied[/]: a standing deny blocks this contract; nothing runs")
            entry["outcome"] = "denied"
            return EXIT_DENIED
        missing = esc.status(row.id).missing
        waiting = []
        for agent in missing:
            how = self.ask(agent, row)
            if how is None:
                waiting.append(agent)
                continue
            esc.approve(esc.sign_as(agent, APPROVE, esc.approval_params(agent, row.id)))
            self.say(f"[green]approved by {e(agent)}[/] by hand ({how}): signed the identity hash")
            entry["approvals"].append({"agent": agent, "how": how})
        if waiting:
            self.say(f"[yellow]awaiting approval[/] of {e(', '.join(waiting))}: nothing runs "
                     f"(pass --approve-all or --approve AGENT)")
            entry["outcome"] = "awaiting approval"
            entry["waiting_for"] = waiting
            return EXIT_AWAITING
        runner = row.proposer if (row.proposer in row.recipients or not row.recipients) else row.recipients[0]
        rep = self.execute(runner, row.id)
        from .narrate import report_lines

        self.say(f"executed by {e(runner)} in {rep.seconds:.2f} s:")
        for line in report_lines(rep):
            self.say(cs.safe_text(line), 2)
        entry["outcome"] = rep.status
        entry["execution"] = rep.to_json(values=True)
        if rep.status == "executed" and rep.releases:
            self.show_result(entry, rep, runner)
        return EXIT_RELEASED if rep.status == "executed" else EXIT_CONDITION

    def execute(self, runner: str, cid: str):
        """Execute as `runner`, showing the stages the escrow reports (spinner or plain lines)."""
        from datastation.runtime.escrow import EXECUTE

        from .progress import StageProgress

        req = self.escrow.sign_as(runner, EXECUTE, {"contract": cid})
        if self.json:
            return self.escrow.execute(req, values=True)  # dev mode: its user is every party
        self.say(f"executing as {e(runner)}:")
        with StageProgress(self.con, prefix="      ") as show:
            return self.escrow.execute(req, progress=show, values=True)

    def show_result(self, entry: dict, rep, runner: str) -> None:
        """A preview of the released result (as one recipient reads it), before the escrow is deleted."""
        from datastation.runtime.escrow import EscrowRefusal
        from datastation.stdlib.serialize import SerializeError

        from .result_view import decode, print_preview

        recipients = [r for r, _ in rep.releases]
        who = runner if runner in recipients else recipients[0]
        try:
            res = self.escrow.result(who, rep.contract_id)
            value = decode(res.kind, res.data)
        except (EscrowRefusal, SerializeError, *cs.user_errors()) as exc:
            self.say(f"[red]cannot show the result[/]: {e(cs.safe_text(exc))}")
            return
        entry["result"] = {"recipient": who, "kind": res.kind, "sha256": res.sha256, "size": len(res.data)}
        self.say(f"the result, as {e(who)} reads it (`dsc result {rep.contract_id[:12]} --as {e(who)}` on a kept escrow):")
        print_preview(self.con, res.kind, value, indent=6)

    def ask(self, agent: str, row) -> str | None:
        if self.args.approve_all:
            return "--approve-all"
        if agent in self.args.approve:
            return f"--approve {agent}"
        if self.json or not sys.stdin.isatty():
            return None
        from .summary_view import render_summary

        render_summary(cs.stored_summary(self.escrow, row), self.con)
        try:
            answer = input(f"Approve contract {row.name} as {agent}? [y/N] ").strip().lower()
        except EOFError:
            return None
        return "answered at the prompt" if answer in ("y", "yes") else None

    def finish(self, code: int) -> None:
        from datastation.runtime.audit import verify_log

        v = verify_log(self.escrow.store, self.escrow.ctx.escrow_public_pem)
        self.head("Audit log")
        self.say(e(v.describe()))
        self.doc["audit"] = {"ok": v.ok, "entries": v.count}
        self.doc["exit_code"] = code
        if self.args.escrow_dir:
            self.doc["continue"] = continue_command(self.root, self.keys)
        if self.json:
            cs.print_json(self.doc)
        elif self.args.escrow_dir:
            self.con.print(f"\nthe escrow (outbox included) is kept in {e(str(self.root))}; the agents' development "
                           f"keys in {e(str(self.keys))}. Go on with it (as its agents) with:")
            self.con.print(f"  {e(continue_command(self.root, self.keys))}")
        else:
            self.con.print("\n[dim]the temporary escrow (outbox included) and its development keys are deleted now; "
                           "pass --keep DIR to keep them[/]")
