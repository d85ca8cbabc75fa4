"""Reading a data element outside the contract stops the function at once; nothing is released."""

import pytest

from datastation.runtime.escrow.execution import READ_OUTSIDE

SNEAKY = '''

def sneaky(train: list, label: str) -> dict:
    from datastation.runtime.app_api import read_data

    ok = read_data("bank1.train")  # an input of the computation: allowed
    {target}
    return {{"rows": len(ok)}}
'''


@pytest.mark.parametrize(
    "target,forbidden",
    [
        ('read_data("bank2.secret")', "bank2.secret"),  # not in the contract at all
        ('read_data("bank2.test")', "bank2.test"),  # only the conditions may read it
        ('try:\n        read_data("bank2.secret")\n    except BaseException:\n        pass', "bank2.secret"),  # swallowed
    ],
)
def test_short_circuit(world, target, forbidden):
    fn = world.dsc.parent / "functions.py"
    fn.write_text(fn.read_text() + SNEAKY.format(target=target))
    src = world.dsc.read_text().replace("compute fraud_model(train = [bank1.train, bank2.train]",
                                        "compute sneaky(train = [bank1.train, bank2.train]")
    world.dsc.write_text(src.replace("except fraud_model,", "except sneaky, fraud_model,"))
    world.data("bank2.secret", b"a,b\n1,2\n")
    row = world.propose("joint_model", "bank1")
    for a in row.source_agents:
        world.approve(row.id, a)
    rep = world.execute(row.id, "bank1")
    assert rep.status == "short_circuit" and rep.blocked == READ_OUTSIDE and forbidden not in rep.error
    assert [c.kind for c in rep.conditions] == ["require"]  # no ensure was evaluated
    assert world.store.releases(contract_id=row.id) == []
    assert not world.config.outbox_path.exists() or not any(world.config.outbox_path.rglob("*"))
    entries = [e for e in world.store.audit_entries(contract=row.id) if e.kind == "short_circuit"]
    assert entries and "key" not in entries[0].payload and forbidden not in str(entries[0].payload)
    assert world.store.get_contract(row.id).status == "short_circuit"


def test_app_api_outside_a_run():
    from datastation.runtime.app_api import NotInEscrow, read_data

    with pytest.raises(NotInEscrow):
        read_data("bank1.train")
