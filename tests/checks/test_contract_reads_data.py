"""contract_reads_data: DSC013, a contract that reads no data (nobody would have to approve it)."""

from checks_helpers import PRELUDE, codes, expect


def test_computation_without_data():
    expect("DSC013", PRELUDE + 'contract «c» { by bank1 compute anything(x = "a") to bank1 }\n')


def test_keep_without_data():
    expect("DSC013", PRELUDE + "contract «c» { by bank1 keep k = anything(x = 1) }\n")


def test_conditions_over_literals_read_no_data():
    expect("DSC013", PRELUDE + "contract «c» { by bank1 compute anything(x = 1) to bank1 require 1 < 2 }\n")


def test_data_in_a_condition_is_read():
    src = PRELUDE + "contract c { by bank1 compute anything(x = 1) to bank1 require size(bank1.train) > 1 }\n"
    assert "DSC013" not in codes(src)


def test_data_in_the_computation_is_read():
    assert "DSC013" not in codes(PRELUDE + "contract c { by bank1 compute size(bank1.train) to bank1 }\n")


def test_a_kept_result_brings_its_data():
    src = PRELUDE + ("contract c { by bank1 keep k = size(bank1.train) }\n"
                     "contract d { by bank2 compute anything(x = k) to bank2 }\n")
    assert "DSC013" not in codes(src)


def test_a_kept_result_without_data_brings_none():
    src = PRELUDE + ("contract «c» { by bank1 keep k = anything(x = 1) }\n"
                     "contract «d» { by bank2 compute anything(x = k) to bank2 }\n")
    expect("DSC013", src)


def test_undefined_data_is_reported_as_such():
    src = PRELUDE + "contract c { by bank1 compute size(bank1.nope) to bank1 }\n"
    assert "DSC021" in codes(src) and "DSC013" not in codes(src)


def test_a_contract_computing_nothing_is_reported_as_such():
    src = PRELUDE + "contract c { by bank1 to bank1 }\n"
    assert "DSC010" in codes(src) and "DSC013" not in codes(src)
