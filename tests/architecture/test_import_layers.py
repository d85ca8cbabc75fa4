"""The layers import one way (pyproject.toml [tool.importlinter], docs/architecture.md).

Runs import-linter's contracts on the source as it is, then on the same graph with one
deliberately added `contracts -> runtime` import, which must break the layers contract.
"""

from pathlib import Path

import importlinter.application.use_cases as use_cases
import pytest
from importlinter.adapters.user_options import TomlFileUserOptionReader
from importlinter.application.user_options import UserOptions

PYPROJECT = Path(__file__).parents[2] / "pyproject.toml"
LAYERS = "client -> runtime -> contracts -> dsl: each layer imports only the layers below it"


def _options() -> UserOptions:
    options = TomlFileUserOptionReader().read_options(config_filename=str(PYPROJECT))
    assert options is not None, "pyproject.toml has no [tool.importlinter] section"
    return options


def _broken(report) -> list[str]:
    return [c.name for c, check in report.get_contracts_and_checks() if not check.kept]


@pytest.fixture(scope="module")
def bootstrap():
    from importlinter.configuration import configure

    configure()
    use_cases._register_built_in_contract_types()


def test_the_source_keeps_every_contract(bootstrap):
    report = use_cases.create_report(_options(), cache_dir=None)
    assert _broken(report) == []


def test_a_contracts_to_runtime_import_breaks_the_layers(bootstrap, monkeypatch):
    build = use_cases._build_graph

    def with_a_bad_import(**kwargs):
        graph = build(**kwargs)
        graph.add_import(importer="datastation.contracts.release", imported="datastation.runtime.store",
                         line_number=1, line_contents="from datastation.runtime.store import Store")
        return graph

    before = set(_broken(use_cases.create_report(_options(), cache_dir=None)))
    monkeypatch.setattr(use_cases, "_build_graph", with_a_bad_import)
    after = set(_broken(use_cases.create_report(_options(), cache_dir=None)))
    assert after - before == {LAYERS}


def test_function_local_imports_count(bootstrap):
    """A lazy import inside a function is an import like any other for the contracts."""
    graph = use_cases._build_graph(root_package_names=_options().session_options["root_packages"],
                                   include_external_packages=False, exclude_type_checking_imports=False,
                                   verbose=False, cache_dir=None)
    # runtime/commands/execute.py imports the escrow only inside its `run` function
    assert graph.direct_import_exists(importer="datastation.runtime.commands.execute",
                                      imported="datastation.runtime.escrow")
