"""Shell completion generated from the parser, and contracts named by name, id or id prefix."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from datastation.runtime.cli import COMMANDS


def _script(dsc_in, tmp_path, shell: str) -> str:
    r = dsc_in(tmp_path, "completion", shell)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.mark.parametrize("words, cword, expected", [
    (["dsc", "sta"], 1, ["status"]),
    (["dsc", "--escrow", "/tmp", "contr"], 3, ["contracts"]),
    (["dsc", "agent", "cr"], 2, ["create"]),
    (["dsc", "contracts", "--status", "pen"], 3, ["pending"]),
    (["dsc", "log", "--kind", "rel"], 3, ["release"]),
    (["dsc", "completion", "f"], 2, ["fish"]),
    (["dsc", "agent", "create", "--disp"], 3, ["--display"]),
])
def test_bash_completes(words, cword, expected, dsc_in, tmp_path):
    script = tmp_path / "dsc.bash"
    script.write_text(_script(dsc_in, tmp_path, "bash"))
    array = " ".join(f"'{w}'" for w in words)
    done = subprocess.run(["bash", "-c", f'source {script}; COMP_WORDS=({array}); COMP_CWORD={cword}; _dsc; '
                                         'printf "%s\\n" "${COMPREPLY[@]}"'],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == expected


def test_every_command_is_completed(dsc_in, tmp_path):
    bash = _script(dsc_in, tmp_path, "bash")
    fish = _script(dsc_in, tmp_path, "fish")
    for name in COMMANDS:
        assert f" -a {name} " in fish and name in bash.split("\n", 4)[3]


@pytest.mark.parametrize("shell, check", [("zsh", ["zsh", "-n"]), ("fish", ["fish", "--no-execute"])])
def test_other_shells_parse_their_script(shell, check, dsc_in, tmp_path):
    if shutil.which(check[0]) is None:
        pytest.skip(f"{check[0]} is not installed")
    script = tmp_path / f"dsc.{shell}"
    script.write_text(_script(dsc_in, tmp_path, shell))
    assert subprocess.run([*check, str(script)], capture_output=True, timeout=60).returncode == 0


def test_a_contract_is_named_by_name_id_or_prefix(project, dsc_in):
    cid = json.loads(dsc_in(project, "status", "joint_model", "--format", "json").stdout)["id"]
    for ref in (cid, cid[:4], cid[:12].upper(), "joint_model"):
        r = dsc_in(project / "sub", "status", ref, "--format", "json")
        assert r.returncode == 0 and json.loads(r.stdout)["id"] == cid, (ref, r.stderr)
    for cmd in (("show", "joint_model"), ("log", "--contract", "joint_model"),
                ("approve", "joint_model", "--as", "bank1", "--yes")):
        assert dsc_in(project, *cmd).returncode == 0, cmd
    r = dsc_in(project, "status", cid[:3])
    assert r.returncode == 1 and "at least 4" in r.stderr


def test_the_latest_proposal_of_a_name_and_ambiguous_references(project, dsc_in):
    first = json.loads(dsc_in(project, "status", "joint_model", "--format", "json").stdout)["id"]
    src = project / "s.dsc"
    src.write_text(src.read_text().replace('label = "is_fraud")\n  to      bank1, bank2',
                                           'label = "is_fraud")\n  to      bank1'))
    r = dsc_in(project, "propose", "s.dsc", "joint_model", "--as", "bank1", "--format", "json")
    assert r.returncode == 0, r.stderr
    second = json.loads(r.stdout)["id"]
    assert json.loads(dsc_in(project, "status", "joint_model", "--format", "json").stdout)["id"] == second
    # a reference naming two contracts lists both
    common = 0
    while first[common] == second[common]:
        common += 1
    if common >= 4:
        r = dsc_in(project, "status", first[:common])
        assert r.returncode == 1 and first[:12] in r.stderr and second[:12] in r.stderr
    from datastation.runtime.config import config_from_dict
    from datastation.runtime.escrow import Escrow, EscrowRefusal

    with Escrow.open(config_from_dict({}, project)) as escrow:
        row = escrow.store.get_contract(first)
        import dataclasses

        # a contract whose name is a prefix of another's id: both are candidates
        escrow.store.put_contract(dataclasses.replace(row, id="f00d" + "0" * 60, name=second[:6]))
        with pytest.raises(EscrowRefusal) as exc:
            escrow.resolve(second[:6])
        assert exc.value.code == "ambiguous_contract" and second[:12] in str(exc.value) and "f00d" in str(exc.value)
