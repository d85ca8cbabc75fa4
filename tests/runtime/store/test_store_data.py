"""Schema inference, declared-schema checks, and `data add/remove` through signed requests."""

import io
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from datastation.runtime.keys import make_request
from datastation.runtime.store import ContractRow
from datastation.runtime.data_schema import SchemaError, compare_schema, format_from_path, infer_schema
from datastation.runtime.escrow import Escrow
from datastation.runtime.escrow.context import EscrowRefusal, open_escrow
from datastation.runtime.escrow.data import add_data, data_add_params, read_data, remove_data
from datastation.runtime.audit import verify_log

CASES = yaml.safe_load((Path(__file__).parent / "schema_cases.yaml").read_text())
CSV = b"x,y\n1,a\n2,b\n"


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_infer_schema(case):
    contents = case["contents"].encode()
    if "error" in case:
        with pytest.raises(SchemaError, match=case["error"]):
            infer_schema(contents, case["format"])
    else:
        assert infer_schema(contents, case["format"]) == case["schema"]


def test_parquet_schema():
    import datetime as dt

    table = pa.table({"i": [1, 2], "f": [1.0, None], "s": ["a", "b"], "b": [True, False],
                      "d": [dt.date(2024, 1, 1), None], "t": [dt.datetime(2024, 1, 1), None]})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    assert infer_schema(buf.getvalue(), "parquet") == {"i": "int", "f": "float", "s": "string", "b": "bool",
                                                        "d": "date", "t": "datetime"}


def test_compare_schema():
    inferred = {"a": "int", "b": "string", "c": "date"}
    assert compare_schema({"a": "float", "b": "string", "c": "datetime"}, inferred) == []
    problems = compare_schema({"a": "bool", "z": "int", "b": "string"}, inferred)
    assert len(problems) == 3  # a mistyped, z missing, c undeclared


def test_format_from_path():
    assert format_from_path("x.CSV") == "csv" and format_from_path("x.pq") == "parquet"
    assert format_from_path("x.txt", "json") == "json"
    with pytest.raises(SchemaError):
        format_from_path("x.txt")


@pytest.fixture
def ctx(config):
    c = open_escrow(config)
    Escrow(c).create_agent("bank1", passphrase=None)
    Escrow(c).create_agent("bank2", passphrase=None)
    yield c
    c.close()


def sign_request_as(ctx, agent, action, params):
    return Escrow(ctx).sign_as(agent, action, params)


def add(ctx, key, contents=CSV, agent="bank1", **kw):
    req = sign_request_as(ctx, agent, "data.add", data_add_params(key, "csv", contents, **kw))
    return add_data(ctx, req, contents)


def refusal(fn):
    with pytest.raises(EscrowRefusal) as info:
        fn()
    return info.value.code


def test_add_read_remove(ctx):
    row = add(ctx, "bank1.train", declared_schema={"x": "int", "y": "string"})
    assert row.inferred_schema == {"x": "int", "y": "string"}
    assert read_data(ctx, "bank1.train") == CSV
    path = ctx.storage.path_for("bank1", row.content_hash)
    assert path.read_bytes() == CSV and oct(path.stat().st_mode & 0o777) == "0o600"
    remove_data(ctx, sign_request_as(ctx, "bank1", "data.remove", {"key": "bank1.train"}))
    assert ctx.store.get_data("bank1.train") is None and not path.exists()
    kinds = [e.kind for e in ctx.store.audit_entries()]
    assert kinds == ["genesis", "agent_created", "agent_created", "data_add", "data_remove"]
    assert verify_log(ctx.store, ctx.escrow_public_pem).ok


def test_replace(ctx):
    old = add(ctx, "bank1.train")
    assert refusal(lambda: add(ctx, "bank1.train", b"x\n5\n")) == "data_exists"
    new = add(ctx, "bank1.train", b"x\n5\n", replace=True)
    assert ctx.store.get_data("bank1.train").content_hash == new.content_hash
    assert not ctx.storage.exists("bank1", old.content_hash)  # the old contents were dropped


def test_shared_contents_survive_removal(ctx):
    add(ctx, "bank1.a")
    add(ctx, "bank1.b")
    remove_data(ctx, sign_request_as(ctx, "bank1", "data.remove", {"key": "bank1.a"}))
    assert read_data(ctx, "bank1.b") == CSV


@pytest.mark.parametrize("attempt, code", [
    (lambda ctx: add(ctx, "bank1.t", agent="bank2"), "not_owner"),
    (lambda ctx: add(ctx, "bank1.t", declared_schema={"x": "date", "y": "string"}), "schema_mismatch"),
    (lambda ctx: add(ctx, "bank1.t", b"\xff\xfe"), "bad_data"),
    (lambda ctx: add(ctx, "bank1", CSV), "bad_key"),
    (lambda ctx: add(ctx, "bank1.../x", CSV), "bad_key"),
    (lambda ctx: add_data(ctx, sign_request_as(ctx, "bank1", "data.add",
                                               data_add_params("bank1.t", "csv", CSV)), b"x\n9\n"), "content_mismatch"),
    (lambda ctx: remove_data(ctx, sign_request_as(ctx, "bank1", "data.remove", {"key": "bank1.none"})), "no_data"),
])
def test_refusals_leave_only_an_audit_entry(ctx, attempt, code):
    before = ctx.store.list_data()
    assert refusal(lambda: attempt(ctx)) == code
    assert ctx.store.list_data() == before
    last = list(ctx.store.audit_entries())[-1]
    assert (last.kind, last.payload["code"]) == ("refusal", code)
    assert ctx.storage.all_objects() == set()


def test_unauthenticated_refusals_leave_no_audit_entry(ctx):
    n = ctx.store.audit_count()
    wrong_action = sign_request_as(ctx, "bank1", "data.remove", data_add_params("bank1.t", "csv", CSV))
    assert refusal(lambda: add_data(ctx, wrong_action, CSV)) == "wrong_action"
    from datastation.runtime.keys import generate_key

    forged = make_request("bank1", generate_key(), "data.add", data_add_params("bank1.t", "csv", CSV),
                          escrow=ctx.escrow_id)
    assert refusal(lambda: add_data(ctx, forged, b"not what was signed")) == "bad_signature"  # not content_mismatch
    assert ctx.store.audit_count() == n and ctx.storage.all_objects() == set()
    assert ctx.unauthenticated.total["wrong_action"] == 1 and ctx.unauthenticated.total["bad_signature"] == 1


def test_forged_request(ctx):
    from datastation.runtime.keys import generate_key

    req = make_request("bank1", generate_key(), "data.add", data_add_params("bank1.t", "csv", CSV), escrow=ctx.escrow_id)
    assert refusal(lambda: add_data(ctx, req, CSV)) == "bad_signature"


def test_remove_refused_while_a_pending_contract_uses_it(ctx):
    add(ctx, "bank1.train")
    ctx.store.put_contract(ContractRow(id="c" * 64, name="joint", canonical="{}", proposer="bank2",
                                       status="pending", inputs=("bank1.train",)))
    req = sign_request_as(ctx, "bank1", "data.remove", {"key": "bank1.train"})
    assert refusal(lambda: remove_data(ctx, req)) == "data_in_use"
    assert refusal(lambda: add(ctx, "bank1.train", b"x\n1\n", replace=True)) == "data_in_use"
    ctx.store.set_contract_status("c" * 64, "executed")
    remove_data(ctx, sign_request_as(ctx, "bank1", "data.remove", {"key": "bank1.train"}))


def test_remove_by_non_owner(ctx):
    add(ctx, "bank1.train")
    req = sign_request_as(ctx, "bank2", "data.remove", {"key": "bank1.train"})
    assert refusal(lambda: remove_data(ctx, req)) == "not_owner"
    assert ctx.store.get_data("bank1.train") is not None
