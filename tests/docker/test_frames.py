"""The result channel's frame parser (no engine needed): only known kinds, bytes never decoded."""

import pytest

from datastation.runtime.executors.docker.container import parse_frame


@pytest.mark.parametrize("header,status", [
    ({"status": "ok", "kind": "pickle"}, "error"),
    ({"status": "ok", "kind": None}, "error"),
    ({"status": "weird"}, "error"),
    ({"status": "ok", "kind": "json"}, "ok"),
    ({"status": "short_circuit", "key": "bank2.x"}, "short_circuit"),
    ({"status": "resource_limit", "error": "memory"}, "resource_limit"),
])
def test_frame_statuses(header, status):
    assert parse_frame(header, b"cos\nsystem\n").status == status


def test_ok_frame_keeps_bytes_opaque():
    out = parse_frame({"status": "ok", "kind": "json"}, b"\x80\x04cos")
    assert out.data == b"\x80\x04cos" and out.kind == "json"
