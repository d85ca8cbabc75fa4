"""The built-ins are what the checker reads: plain top-level defs, fully annotated, documented."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import datastation.stdlib as stdlib

ALLOWED = {"int", "float", "str", "bool", "list", "dict", "Any", "Table", "Model", "Schema", "Column"}


def _public_defs() -> dict[str, tuple[str, ast.FunctionDef]]:
    found: dict[str, tuple[str, ast.FunctionDef]] = {}
    for module, path in zip(stdlib.MODULES, stdlib.module_paths()):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                assert node.name not in found, f"{node.name} defined in {found.get(node.name, ('?',))[0]} and {module}"
                found[node.name] = (module, node)
    return found


DEFS = _public_defs()


def _names(annotation: ast.expr) -> set[str]:
    return {n.id for n in ast.walk(annotation) if isinstance(n, ast.Name)}


def test_modules_literal_is_readable_with_ast():
    tree = ast.parse(Path(stdlib.__file__).read_text(encoding="utf-8"))
    assigned = [n for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "MODULES"]
    assert ast.literal_eval(assigned[0].value) == stdlib.MODULES


def test_builtins_lists_exactly_the_public_defs():
    assert sorted(stdlib.BUILTINS) == sorted(DEFS)
    assert len(set(stdlib.BUILTINS)) == len(stdlib.BUILTINS)


@pytest.mark.parametrize("name", sorted(DEFS))
def test_builtin_is_fully_annotated_and_documented(name):
    _, node = DEFS[name]
    args = node.args
    assert not args.vararg and not args.kwarg, "the checker binds named parameters only"
    for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
        assert arg.annotation is not None, f"{name}({arg.arg}) has no annotation"
        assert _names(arg.annotation) <= ALLOWED, ast.unparse(arg.annotation)
    assert node.returns is not None and _names(node.returns) <= ALLOWED
    doc = ast.get_docstring(node)
    assert doc and doc.splitlines()[0].strip().endswith("."), "one-line summary first"


@pytest.mark.parametrize("name", sorted(DEFS))
def test_resolve_returns_the_function(name):
    func = stdlib.resolve(name)
    assert func.__name__ == name
    assert func.__module__ == f"datastation.stdlib.{DEFS[name][0]}"


def test_resolve_refuses_unknown_and_private_names():
    for name in ("nope", "_run", "LinearModel", "to_bytes"):
        with pytest.raises(KeyError):
            stdlib.resolve(name)


def test_checker_sees_every_builtin_with_typed_signature():
    signatures = pytest.importorskip("datastation.dsl.signatures")
    types = pytest.importorskip("datastation.dsl.types")
    sigs = signatures.stdlib_functions()
    assert set(stdlib.BUILTINS) <= set(sigs)
    for name in stdlib.BUILTINS:
        sig = sigs[name]
        assert sig.returns != types.ANY, name
        assert all(p.type != types.ANY for p in sig.params), name
    assert str(sigs["accuracy"].returns) == "float"
    assert [str(p.type) for p in sigs["train_classifier"].params] == ["list[table]", "string"]


COLUMN_PARAMETERS = {  # every built-in parameter that names columns, and the tables they are columns of
    ("count", "column"): (), ("mean", "column"): (), ("minimum", "column"): (), ("maximum", "column"): (),
    ("total", "column"): (), ("min_group_size", "by"): (), ("aggregate", "by"): (), ("aggregate", "column"): (),
    ("fit_classifier", "label"): (), ("fit_classifier", "features"): (), ("train_classifier", "label"): (),
    ("accuracy", "label"): (), ("difference_in_means", "treatment"): (), ("difference_in_means", "outcome"): (),
    ("causal_effect", "treatment"): (), ("causal_effect", "outcome"): (), ("causal_effect", "confounders"): (),
    ("cohort_effect", "on"): ("cohort", "registry"), ("cohort_effect", "treatment"): ("cohort",),
    ("cohort_effect", "outcome"): ("registry",), ("cohort_effect", "confounders"): ("registry",),
}


def test_column_parameters_are_marked_and_name_table_parameters():
    from datastation.dsl import types as T
    from datastation.dsl.signatures import stdlib_functions

    sigs = stdlib_functions()
    found = {(name, p.name): p.columns_of for name in stdlib.BUILTINS for p in sigs[name].params
             if p.columns_of is not None}
    assert found == COLUMN_PARAMETERS
    for (name, _param), tables in found.items():
        table_params = {p.name for p in sigs[name].params if p.type in (T.TABLE, T.list_of(T.TABLE))}
        assert table_params and set(tables) <= table_params, name


def test_aggregate_result_columns_are_what_it_returns():
    import pandas as pd

    from datastation.dsl.signatures import stdlib_functions
    from datastation.stdlib.tables import aggregate

    frame = pd.DataFrame({"region": ["n", "s", "n"], "band": ["a", "a", "b"], "minutes": [1.0, 2.0, 3.0]})
    template = stdlib_functions()["aggregate"].result_columns
    for by, metric, column in [(["region"], "mean", "minutes"), (["region", "band"], "count", "minutes"),
                               ([], "sum", "minutes")]:
        predicted = []
        for t in template:
            predicted += by if t == "*by" else [t.format(metric=metric, column=column)]
        assert list(aggregate(frame, by, metric, column, 1).columns) == predicted


def test_reference_lists_every_builtin():
    text = (Path(__file__).resolve().parents[2] / "docs" / "stdlib.md").read_text(encoding="utf-8")
    for name in stdlib.BUILTINS:
        assert f"`{name}(" in text, name
