"""The adversarial suite: each hostile function is contained, nothing is released, and the
sandbox serves the next job (every test runs on the same session sandbox, so each job is the
next job of the one before; the heaviest cases check a benign job explicitly right after).
Assertions are on outcome statuses, never on timing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from datastation.runtime.executors.docker import DataRef, InputSource, Limits

pytestmark = pytest.mark.docker

TABLE = b"id,amount\n1,10\n2,32\n"


def run(sandbox, hostile_module, function, *args, inputs=None, **kw):
    return sandbox.run_function(function=function, module_path=hostile_module, args=list(args),
                                inputs=inputs or {}, **kw)


@pytest.fixture
def still_serving(sandbox, hostile_module):
    """After the hostile job, a benign job on the same sandbox still gives the right answer."""
    yield
    out = run(sandbox, hostile_module, "benign", DataRef("bank1.tx"), "amount",
              inputs={"bank1.tx": InputSource.from_bytes(TABLE, "csv")})
    assert out.status == "ok", out.error
    assert json.loads(out.data) == 42.0


def assert_nothing_released(out):
    assert out.status != "ok"
    assert out.data is None and out.kind is None


def test_benign_function_returns_json(sandbox, hostile_module):
    out = run(sandbox, hostile_module, "benign", DataRef("bank1.tx"), "amount",
              inputs={"bank1.tx": InputSource.from_bytes(TABLE, "csv")})
    assert (out.status, out.kind, json.loads(out.data)) == ("ok", "json", 42.0)
    assert out.reads == ["bank1.tx"]


def test_network_connection_is_stopped(sandbox, hostile_module, still_serving):
    out = run(sandbox, hostile_module, "connect_out")
    assert_nothing_released(out)
    assert out.status == "short_circuit"


def test_module_top_level_is_watched_too(sandbox):
    out = sandbox.run_function(function="f", module_path=Path(__file__).with_name("hostile_toplevel.py"))
    assert_nothing_released(out)
    assert out.status == "short_circuit"


def test_network_is_absent_even_bypassing_hooks(sandbox, hostile_module):
    out = run(sandbox, hostile_module, "connect_out_raw")
    assert out.status == "ok"  # the function ran, but its socket went nowhere
    assert json.loads(out.data)["connected"] is False


@pytest.mark.parametrize("path_kind", ["etc_passwd", "other_de_file", "escrow_key"])
def test_reading_files_outside_the_contract_short_circuits(sandbox, hostile_module, tmp_path, path_kind):
    secret = tmp_path / "escrow" / "escrow_key.pem"
    secret.parent.mkdir()
    secret.write_text("-----BEGIN PRIVATE KEY-----\nSECRET\n")
    other = tmp_path / "escrow" / "storage" / "bank2" / "ab" / ("ab" + "0" * 62)
    other.parent.mkdir(parents=True)
    other.write_bytes(b"id,secret\n1,bank2-only\n")
    path = {"etc_passwd": "/etc/passwd", "other_de_file": str(other), "escrow_key": str(secret)}[path_kind]
    out = run(sandbox, hostile_module, "read_path", path)
    assert_nothing_released(out)
    if path.startswith("/tmp/"):
        # /tmp is the function's own scratch tmpfs: the host file is simply not there.
        assert out.status in ("short_circuit", "error")
    else:
        assert out.status == "short_circuit" and out.path == path


def test_files_outside_the_contract_are_not_there(sandbox, hostile_module, tmp_path):
    secret = tmp_path / "escrow_key.pem"
    secret.write_text("SECRET")
    out = run(sandbox, hostile_module, "read_path_raw", str(secret))
    assert out.status == "ok"
    assert json.loads(out.data)["opened"] is False  # not mounted: it does not exist in the container


def test_host_passwd_is_not_visible(sandbox, hostile_module):
    out = run(sandbox, hostile_module, "read_path_raw", "/etc/passwd")
    host = Path("/etc/passwd").read_text()
    seen = json.loads(out.data).get("data", "")
    assert "root:" in seen and seen != host[:4096]  # the image's own passwd, not the host's


def test_reading_another_de_through_the_api_short_circuits_with_its_key(sandbox, hostile_module, still_serving):
    out = run(sandbox, hostile_module, "read_other_de", "bank2.secret",
              inputs={"bank1.tx": InputSource.from_bytes(TABLE, "csv")})
    assert_nothing_released(out)
    assert (out.status, out.key) == ("short_circuit", "bank2.secret")


def test_catching_the_short_circuit_does_not_help(sandbox, hostile_module):
    out = run(sandbox, hostile_module, "read_other_de_swallowed", "bank2.secret")
    assert_nothing_released(out)
    assert (out.status, out.key) == ("short_circuit", "bank2.secret")


def test_bound_argument_outside_inputs_is_refused_before_start(sandbox, hostile_module):
    out = run(sandbox, hostile_module, "benign", DataRef("bank2.secret"), "amount")
    assert (out.status, out.key) == ("short_circuit", "bank2.secret")


@pytest.mark.parametrize("target", ["/etc/evil", "/job/in/data/evil", "/opt/datastation/evil"])
def test_writing_outside_the_output_is_stopped(sandbox, hostile_module, target):
    out = run(sandbox, hostile_module, "write_path", target)
    assert_nothing_released(out)
    assert out.status == "short_circuit"


@pytest.mark.parametrize("target", ["/etc/evil", "/job/in/evil", "/opt/datastation/datastation/stdlib/evil.py"])
def test_filesystem_is_read_only_even_bypassing_hooks(sandbox, hostile_module, target):
    out = run(sandbox, hostile_module, "write_path_raw", target)
    assert out.status == "ok"
    assert json.loads(out.data)["written"] is False


def test_fork_is_stopped(sandbox, hostile_module):
    out = run(sandbox, hostile_module, "fork_bomb")
    assert_nothing_released(out)
    assert out.status == "short_circuit"


def test_fork_bomb_bypassing_hooks_hits_limits(runtime_image, hostile_module):
    from datastation.runtime.executors.docker import DockerSandbox

    box = DockerSandbox(Limits(image=runtime_image, timeout_seconds=8, pids=32, memory="256m"))
    try:
        out = box.run_function(function="fork_bomb_raw", module_path=hostile_module)
        assert_nothing_released(out)
        assert out.status in ("timeout", "resource_limit")
        ok = box.run_function(function="benign", module_path=hostile_module, args=[DataRef("t"), "amount"],
                              inputs={"t": InputSource.from_bytes(TABLE, "csv")})
        assert ok.status == "ok"
    finally:
        box.close()


def test_allocating_10gb_hits_the_memory_limit(sandbox, hostile_module, still_serving):
    out = run(sandbox, hostile_module, "allocate_10gb")
    assert_nothing_released(out)
    assert out.status == "resource_limit"


def test_infinite_loop_hits_the_wall_time_limit(sandbox, hostile_module, still_serving):
    out = run(sandbox, hostile_module, "loop_forever", timeout_seconds=3)
    assert_nothing_released(out)
    assert out.status == "timeout"


@pytest.mark.parametrize("function", ["return_exploit", "return_pickle_bytes"])
def test_unserialisable_results_are_not_released(sandbox, hostile_module, function):
    out = run(sandbox, hostile_module, function)
    assert_nothing_released(out)
    assert out.status == "error"


def test_pickle_inside_json_stays_inert_data(sandbox, hostile_module):
    from datastation.stdlib.serialize import from_bytes

    out = run(sandbox, hostile_module, "return_pickle_in_json")
    assert out.status == "ok" and out.kind == "json"
    assert isinstance(from_bytes(out.kind, out.data)["payload"], str)  # JSON decoding never unpickles


def test_unpickling_inside_the_sandbox_is_stopped(sandbox, hostile_module):
    out = run(sandbox, hostile_module, "unpickle_inside")
    assert_nothing_released(out)
    assert out.status == "short_circuit"


def test_forged_result_frame_with_unknown_kind_is_refused(sandbox, hostile_module):
    out = run(sandbox, hostile_module, "forge_frame")
    assert_nothing_released(out)
    assert out.status == "error"


@pytest.mark.parametrize("function", ["print_gigabytes", "print_gigabytes_swallowed"])
def test_printing_gigabytes_is_capped(sandbox, hostile_module, still_serving, function):
    out = run(sandbox, hostile_module, function)
    assert_nothing_released(out)
    assert out.status in ("error", "resource_limit")


def test_containers_are_removed(sandbox, hostile_module):
    import time

    out = run(sandbox, hostile_module, "benign", DataRef("t"), "amount", inputs={"t": InputSource.from_bytes(TABLE, "csv")})
    assert out.status == "ok"
    cid = out.timings["container"]
    assert cid
    workdir = Path(out.timings["workdir"])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # removed in the background: the container, then its directory
        if not sandbox.client.api.containers(all=True, filters={"id": cid}) and not workdir.exists():
            break
        time.sleep(0.2)
    assert not sandbox.client.api.containers(all=True, filters={"id": cid})
    assert not workdir.exists()  # the decrypted inputs are erased with it
