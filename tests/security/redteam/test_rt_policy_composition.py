"""Standing policies composed through kept results.

An owner's `allow schema on lab.* to any` says "anyone may learn the shape of my data, never a
value" (examples/schema). A policy judges a contract by the functions it calls (F), the owner's
data it reads with kept results expanded (D) and its recipients (T). The attacker keeps a
derived table whose *shape* is made of the data (a pivot: one column per cell), then asks for
its schema: F = {schema}, D = {lab.t}, T = {mallory}: the policy approves it by itself.
"""

import pytest

from rt_support import SECRET_CSV, SECRET_TEXT, Scenario

PIVOT = '''
import pandas as pd


def pivot(t):
    """One column per row of the table, named after its first cell (the shape is the data)."""
    return pd.DataFrame({str(name): [1] for name in t["name"]})


def tidy(t) -> int:
    return len(t)


def same(t):
    return t
'''

BASE = '''use "f.py"
agent lab
agent mallory
data lab.t csv "t.csv"
'''

KEEP_BY_HAND = BASE + '''
policy lab {
  allow schema on lab.* to any      # anyone may learn the shape of the lab's data
}

contract keep_pivot {
  by   mallory
  keep shaped = pivot(t = lab.t)    # kept inside the escrow, released to nobody
}

contract shape {
  by      mallory
  compute schema(data = shaped)
  to      mallory
}
'''

KEEP_BY_POLICY = BASE + '''
policy lab {
  allow schema on lab.* to any                   # anyone may learn the shape of the lab's data
  allow select on lab.* to lab                   # any query, when only the lab receives it
}

contract keep_pivot {
  by   mallory
  keep shaped = select(query = "PIVOT data ON name USING sum(amount)", data = lab.t)
}

contract shape {
  by      mallory
  compute schema(data = shaped)
  to      mallory
}
'''


def _released_text(s: Scenario) -> str:
    out = s.world.config.outbox_path / "mallory"
    return "\n".join(p.read_bytes().decode(errors="replace") for p in out.rglob("*") if p.is_file()) if out.is_dir() else ""


def _play(tmp_path, text, hand_approve_keep: bool):
    s = Scenario(tmp_path, {"f.py": PIVOT, "s.dsc": text, "t.csv": SECRET_CSV})
    try:
        s.world.apply_policy("lab")
        keep = s.world.propose("keep_pivot", "mallory")
        if hand_approve_keep:
            # The lab approves keeping a derived table inside the escrow: "never released unless
            # a contract releases it", and every such contract needs the lab's approval.
            s.world.approve(keep.id, "lab")
        keep_status = s.status(keep.id)["status"]
        if keep_status == "approved":
            s.world.execute(keep.id, "mallory")
        shape = s.world.propose("shape", "mallory")
        st = s.status(shape.id)
        if st["status"] == "approved":  # approved by the lab's policy, nobody signed by hand
            s.world.execute(shape.id, "mallory")
        return keep_status, st, _released_text(s)
    finally:
        s.close()


def test_allow_schema_does_not_release_cells_of_a_kept_pivot(tmp_path):
    _, st, released = _play(tmp_path, KEEP_BY_HAND, hand_approve_keep=True)
    assert SECRET_TEXT not in released, f"cells released through the schema of a kept table ({st['approvals']})"


def test_policies_alone_do_not_chain_into_a_release_of_cells(tmp_path):
    keep_status, st, released = _play(tmp_path, KEEP_BY_POLICY, hand_approve_keep=False)
    assert SECRET_TEXT not in released, (keep_status, st["approvals"])


DENY_TO = BASE + '''
policy lab {
  deny any on lab.* to mallory      # nothing of the lab's may reach mallory
}

contract keep_all {
  by   mallory
  keep copy = same(t = lab.t)
}

contract out {
  by      mallory
  compute rows(data = copy)
  to      mallory
}
'''


def test_a_deny_to_a_recipient_still_blocks_a_chain_through_a_keep(tmp_path):
    """A keep-only contract has no recipient for `deny ... to mallory` to match; the release that
    follows does, through the kept result's provenance."""
    s = Scenario(tmp_path, {"f.py": PIVOT, "s.dsc": DENY_TO, "t.csv": SECRET_CSV})
    try:
        s.world.apply_policy("lab")
        keep = s.world.propose("keep_all", "mallory")
        s.world.approve(keep.id, "lab")
        s.world.execute(keep.id, "mallory")
        out = s.world.propose("out", "mallory")
        assert s.status(out.id)["status"] == "denied"
    finally:
        s.close()


STOLEN_POLICY = BASE + '''
policy lab {
  allow any on lab.* to any
}

policy mallory {
  allow any on mallory.* to any
}

contract grab {
  by      mallory
  compute tidy(t = lab.t)
  to      mallory
}
'''


def test_a_policy_block_of_another_owner_is_not_registered(tmp_path):
    """mallory applies a file holding a `policy lab { allow any }` block as itself."""
    s = Scenario(tmp_path, {"f.py": PIVOT, "s.dsc": STOLEN_POLICY, "t.csv": SECRET_CSV})
    try:
        try:
            s.world.apply_policy("mallory")
        except Exception:  # noqa: BLE001 - a refusal is fine too
            pass
        grab = s.world.propose("grab", "mallory")
        st = s.status(grab.id)
        assert st["status"] == "pending" and "lab" in st["missing_approvals"], st
    finally:
        s.close()
