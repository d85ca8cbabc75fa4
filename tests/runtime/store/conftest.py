import pytest

from datastation.runtime.config import config_from_dict


@pytest.fixture
def config(tmp_path):
    return config_from_dict({"store": {"synchronous": "NORMAL"}}, tmp_path).with_root(tmp_path / "escrow")
