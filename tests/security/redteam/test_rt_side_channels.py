"""Data-dependent facts of an execution shown to parties who receive nothing.

Non-interference: the same contract, approved the same way, runs on two data sets that differ
only in their secret; what the attacker (the proposer, not a recipient) can read — `dsc status`
and `dsc log` — must not depend on which one ran. Only the approved result (to its recipients)
and the one bit of each condition may differ.
"""

import re

import pytest

from rt_support import SECRET_CSV, SECRET_TEXT, Scenario

CSV_A = SECRET_CSV  # amounts sum to 424242
CSV_B = SECRET_CSV.replace("424000", "424001")  # ... to 424243

FUNCS = '''
from datastation.runtime.app_api import read_data, store_state


def state_len(t) -> int:
    """Returns nothing of the data; keeps a state whose size is the secret."""
    store_state("x", "a" * (int(t["amount"].sum()) % 1000))
    return 1


def raise_at(t) -> int:
    v = int(t["amount"].sum()) % 2
    if v == 0:
        raise ValueError()
    raise ValueError()


def raise_type(t) -> int:
    v = int(t["amount"].sum()) % 2
    raise [KeyError, IndexError][v]()


def ask_key(t) -> int:
    """Reads a data element the contract does not name, chosen by the secret."""
    return read_data("mallory.d" + str(int(t["amount"].sum()) % 2))


def dyn_class(t) -> int:
    raise type("E" + str(t.iloc[0]["name"]).replace("-", "_"), (Exception,), {})()


def chained(t) -> int:
    try:
        raise type("C" + str(t.iloc[0]["name"]).replace("-", "_"), (Exception,), {})()
    except Exception as e:
        raise ValueError() from e


def exit_code(t) -> int:
    raise SystemExit(int(t["amount"].sum()) % 256)
'''

DSC = '''use "f.py"
agent alice
agent mallory
data alice.t csv "t.csv"

contract c_state { by mallory compute state_len(t = alice.t) to alice }
contract c_line  { by mallory compute raise_at(t = alice.t) to alice }
contract c_type  { by mallory compute raise_type(t = alice.t) to alice }
contract c_key   { by mallory compute ask_key(t = alice.t) to alice }
contract c_dyn   { by mallory compute dyn_class(t = alice.t) to alice }
contract c_chain { by mallory compute chained(t = alice.t) to alice }
contract c_exit  { by mallory compute exit_code(t = alice.t) to alice }
'''

VOLATILE = re.compile(r'"(ts|proposed|created|started|finished|seconds|hash|prev_hash|signature|nonce|public_key_sha256|key|content_hash|'
                      r'file_hash|stored_sha256|path|escrow_id)": ("[^"]*"|[0-9.e+-]+)')


def _view(tmp_path, csv: str, contract: str, config_text: str = "") -> str:
    """What mallory reads after alice approves and runs `contract` on `csv`."""
    s = Scenario(tmp_path, {"f.py": FUNCS, "s.dsc": DSC, "t.csv": csv}, config_text=config_text,
                 extra_data={"mallory.d0": b"a\n1\n", "mallory.d1": b"a\n1\n"})
    try:
        cid, _ = s.run(contract, "mallory", ("alice",), "alice")
        st = s.cli("status", cid, "--format", "json")[1]
        log = s.cli("log", "--contract", cid, "--format", "json")[1]
        human = s.cli("status", cid)[1] + s.cli("log", "--contract", cid)[1]
        text = VOLATILE.sub(r'"\1": _', st + log)
        return re.sub(r"[0-9a-f]{64}", "_", text), human  # digests: test_rt_result_digest.py
    finally:
        s.close()


def _differs(tmp_path, contract, config_text=""):
    a, human_a = _view(tmp_path / "a", CSV_A, contract, config_text)
    b, _ = _view(tmp_path / "b", CSV_B, contract, config_text)
    assert SECRET_TEXT not in human_a and SECRET_TEXT.replace("-", "_") not in human_a and SECRET_TEXT not in a
    return a != b, a, b


def _diff(a, b):
    import difflib
    return "\n".join(list(difflib.unified_diff(a.split(","), b.split(","), lineterm=""))[:30])


def test_app_state_size_does_not_reach_a_non_recipient(tmp_path):
    differs, a, b = _differs(tmp_path, "c_state")
    assert not differs, _diff(a, b)


@pytest.mark.xfail(strict=True, reason="ACCEPTED RESIDUAL (H6, docs/security.md 'Residual channels'): the line "
                   "of a user function's failure is chosen by the data: at most log2(lines) bits per run, both modes")
def test_the_failing_line_does_not_depend_on_the_data(tmp_path):
    differs, a, b = _differs(tmp_path, "c_line")
    assert not differs, _diff(a, b)


@pytest.mark.xfail(strict=True, reason="ACCEPTED RESIDUAL (H6, docs/security.md 'Residual channels'): the "
                   "exception type is chosen by the data: at most log2(built-in exception types) bits per run, both modes")
def test_the_exception_type_does_not_depend_on_the_data(tmp_path):
    differs, a, b = _differs(tmp_path, "c_type")
    assert not differs, _diff(a, b)


def test_the_short_circuit_report_does_not_depend_on_the_data(tmp_path):
    differs, a, b = _differs(tmp_path, "c_key")
    assert not differs, _diff(a, b)


def test_an_exception_class_named_after_data_is_not_shown(tmp_path):
    _view(tmp_path, CSV_A, "c_dyn")  # asserts the secret is not in what mallory reads


def test_a_chained_exception_class_named_after_data_is_not_shown(tmp_path):
    _view(tmp_path, CSV_A, "c_chain")


def test_an_exit_status_chosen_by_the_data_is_not_shown(tmp_path):
    differs, a, b = _differs(tmp_path, "c_exit")
    assert not differs, _diff(a, b)


@pytest.mark.docker
def test_app_state_size_does_not_reach_a_non_recipient_no_trust(tmp_path, no_trust_config):
    differs, a, b = _differs(tmp_path, "c_state", no_trust_config.read_text())
    assert not differs, _diff(a, b)


@pytest.mark.docker
def test_the_short_circuit_report_does_not_depend_on_the_data_no_trust(tmp_path, no_trust_config):
    differs, a, b = _differs(tmp_path, "c_key", no_trust_config.read_text())
    assert not differs, _diff(a, b)
