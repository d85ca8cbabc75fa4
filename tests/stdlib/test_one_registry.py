"""One registry of built-ins: the checker's signatures and the escrow's function files agree."""

from __future__ import annotations

import datastation.stdlib as stdlib
from datastation.contracts import functions
from datastation.dsl import signatures


def test_escrow_locates_builtins_through_the_checkers_registry():
    sigs = signatures.stdlib_functions()
    paths = functions.stdlib_functions()
    assert set(paths) == set(sigs) == set(stdlib.BUILTINS)
    for name, sig in sigs.items():
        assert sig.builtin
        assert paths[name] == sig.path
        assert paths[name].resolve() in [p.resolve() for p in stdlib.module_paths()]


def test_every_builtin_resolves_to_hashed_source():
    for name, path in functions.stdlib_functions().items():
        found = functions.function_source(path, name, "stdlib")
        assert found is not None and found.origin == "stdlib", name
        assert found.module.startswith("datastation.stdlib."), found.module
