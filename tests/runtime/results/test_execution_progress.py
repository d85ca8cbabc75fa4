"""An execution tells its stages as they begin (`Escrow.execute(..., progress=)`), and `dsc execute`
/ `dsc run` show them: a rich spinner with the elapsed time on a terminal, plain lines otherwise."""

import io
import json

import pytest
from rich.console import Console

from datastation.runtime.commands.progress import StageProgress
from datastation.runtime.escrow.execution import STAGES


def _run(w, contract, progress):
    row = w.propose(contract, "bank1")
    for a in row.source_agents:
        w.approve(row.id, a)
    from datastation.runtime.escrow import EXECUTE

    return w.escrow.execute(w.escrow.sign_as("bank1", EXECUTE, {"contract": row.id}), progress=progress)


@pytest.mark.parametrize("contract,stages", [
    ("joint_model", ["verifying", "require", "compute", "ensure", "release"]),
    ("pooled", ["verifying", "compute", "release"]),  # no conditions; kept in the escrow
])
def test_the_escrow_reports_each_stage_in_order(world, contract, stages):
    seen = []
    rep = _run(world, contract, seen.append)
    assert rep.status == "executed", rep.error
    assert seen == stages and set(seen) <= set(STAGES)


def test_a_failed_require_stops_the_stages(world, tmp_path):
    text = (tmp_path / "bank" / "bank.dsc").read_text().replace(">= 20 and", ">= 20000 and")
    (tmp_path / "bank" / "bank.dsc").write_text(text)
    seen = []
    rep = _run(world, "joint_model", seen.append)
    assert rep.status == "failed" and seen == ["verifying", "require"]


def test_a_failing_callback_changes_nothing(world):
    def broken(stage):
        raise RuntimeError("display gone")

    rep = _run(world, "joint_model", broken)
    assert rep.status == "executed" and len(rep.releases) == 2


def test_on_a_terminal_a_spinner_with_stage_and_elapsed_time():
    con = Console(file=io.StringIO(), force_terminal=True, width=100)
    with StageProgress(con, prefix="execute: ") as show:
        for s in STAGES:
            show(s)
    out = con.file.getvalue()
    assert "\x1b[" in out  # drawn in place, not printed line by line
    assert "execute: running the function" in out and "execute: releasing the result" in out
    assert "0:00:00" in out  # rich's elapsed-time column
    assert any(ch in out for ch in "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏")  # the spinner
    assert show.stages == list(STAGES)


def test_not_on_a_terminal_one_plain_line_per_stage():
    con = Console(file=io.StringIO(), force_terminal=False, width=100)
    with StageProgress(con, prefix="execute: ") as show:
        for s in STAGES:
            show(s)
    lines = con.file.getvalue().splitlines()
    assert [ln.split(":")[1].strip() for ln in lines] == list(STAGES)
    assert "\x1b" not in "".join(lines) and all(ln.endswith(" s)") for ln in lines)


def test_dsc_execute_without_a_terminal_prints_the_stage_lines(bank):
    r = bank.run("propose", "bank/quick.dsc", "quick", "--as", "bank1", "--format", "json")
    cid = json.loads(r.out)["id"]
    assert bank.run("approve", cid, "--as", "bank1", "--yes").code == 0
    r = bank.sub("execute", cid, "--as", "bank1", "--format", "json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["status"] == "executed"  # standard output stays the report
    stages = [ln.split(":")[1].strip() for ln in r.err.splitlines() if ln.startswith("execute: ")]
    assert stages == list(STAGES)


def test_dsc_run_shows_the_stages_and_a_preview_of_each_released_result(bank, tmp_path):
    r = bank.sub("run", "bank/quick.dsc", "--approve-all")
    assert r.code == 0, r.out + r.err
    stages = [ln.strip().split(":")[0] for ln in r.out.splitlines() if ln.startswith("      ")
              and ln.strip().split(":")[0] in STAGES]
    assert stages == list(STAGES)
    rows = len((tmp_path / "bank" / "bank1_train.csv").read_text().splitlines()) - 1
    after = r.out[r.out.index("the result, as bank1 reads it"):]
    assert "json: int" in after and f"\n      {rows}\n" in after
    assert after.index(str(rows)) < after.index("Audit log")  # shown before the escrow is deleted
