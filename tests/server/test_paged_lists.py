"""`Client.contracts()` and `Client.pending()` read every page of a `dsc serve` escrow's listing
(one signed request a page, `read.contracts` with `limit` and `after`)."""

FILE = """agent alice
agent bob
data alice.t csv "t.csv"
""" + "".join(f"contract c{i} {{\n  by bob\n  compute rows(alice.t)\n  to bob\n}}\n" for i in range(7))


def test_the_client_reads_every_page(served, tmp_path):
    alice, bob = served.agent("alice"), served.agent("bob")
    (tmp_path / "t.csv").write_text("x\n1\n")
    (tmp_path / "s.dsc").write_text(FILE)
    alice.add_data("alice.t", tmp_path / "t.csv")
    ids = [bob.propose(tmp_path / "s.dsc", f"c{i}")["contract"]["id"] for i in range(7)]
    assert [c["id"] for c in bob.contracts(page=3)] == ids
    assert [c["id"] for c in alice.pending(page=2)] == ids
    assert [c["id"] for c in alice.contracts()] == ids
    alice.approve(ids[2])
    assert [c["id"] for c in alice.pending(page=2)] == ids[:2] + ids[3:]


def test_a_listing_that_does_not_move_on_is_refused_not_followed_forever(served):
    # red team (session 10): the client read pages to an empty one; a server (or a store edited
    # by hand) answering the same page again kept it asking for ever
    from datastation.client import RemoteError
    from datastation.runtime.escrow import EscrowRefusal

    bob = served.agent("bob")
    same = [{"id": "a" * 64}, {"id": "b" * 64}]
    bob._post = lambda *args, **kwargs: list(same)
    try:
        bob.contracts(page=2)
    except (RemoteError, EscrowRefusal) as exc:
        assert exc.code == "bad_response"
    else:
        raise AssertionError("the client followed a listing that does not move on")
