"""never_constraints: DSC061, a `never` that some chain of contracts and kept results violates."""

from checks_helpers import codes, expect

HEAD = '''use "lib.py"
agent p1
agent p2
agent adv
data p1.users csv "data.csv"
data p2.users csv "data.csv"
'''


def test_direct_release():
    src = HEAD + "never p1.users reaches «adv»\ncontract c { by adv compute size(p1.users) to adv }\ncontract d { by p2 compute size(p2.users) to p2 }\n"
    (d,) = expect("DSC061", src)
    assert [(r.span.line, r.span.column) for r in d.related] == [(8, 34), (8, 47)]


def test_chain_of_kept_results_lists_every_step():
    src = HEAD + ('never p1.users reaches «adv»\n'
                  'contract m { by adv keep matched = join_tables(left = p1.users, right = p2.users, on = "e") }\n'
                  'contract t { by adv keep model = train_model(train = [matched], label = "y") }\n'
                  'contract r { by adv compute score(model, p2.users, "y") to adv }\n')
    (d,) = expect("DSC061", src)
    assert [(r.span.line, r.span.column) for r in d.related] == [(8, 55), (8, 26), (9, 55), (9, 26), (10, 35), (10, 60)]
    assert "matched" in d.message and "model" in d.message


def test_each_matching_agent_is_reported_at_its_pattern():
    src = HEAD + "never p1.* reaches «adv», «p2»\ncontract c { by adv compute size(p1.users) to adv, p2 }\ncontract d { by p2 compute size(p2.users) to p2 }\n"
    expect("DSC061", src)


def test_keeping_inside_the_escrow_is_not_a_violation():
    src = HEAD + ('never p1.users reaches adv\n'
                  'contract m { by adv keep matched = join_tables(left = p1.users, right = p2.users, on = "e") to p2 }\n')
    assert codes(src) == []


def test_reading_in_a_condition_releases_nothing():
    src = HEAD + "never p1.users reaches adv\ncontract c { by adv compute size(p2.users) to adv require size(p1.users) > 10 }\n"
    assert "DSC061" not in codes(src)


def test_a_long_chain_of_kept_results_is_followed_to_its_end():
    n = 1200  # deeper than Python's recursion limit: every flow query must be iterative
    lines = ['use "lib.py"', "agent a", "agent b", 'data a.x csv "data.csv"', "never a.x reaches b", "goal b receives last",
             'contract c0 { by a keep k0 = join_tables(left = a.x, right = a.x, on = "id") }']
    lines += [f'contract c{i} {{ by a keep k{i} = join_tables(left = k{i - 1}, right = k{i - 1}, on = "id") }}'
              for i in range(1, n)]
    lines.append(f"contract last {{ by b compute size(k{n - 1}) to b }}")
    from checks_helpers import check

    diags = check("\n".join(lines) + "\n").diagnostics
    assert [d.code for d in diags] == ["DSC061", "DSC062"]
    assert len(diags[0].related) == 2 * n + 2  # read and keep per kept result, then read and release
