"""End to end: `dsc lsp` driven over stdio by a real LSP client (pytest-lsp).

One server serves the module's tests (each test opens its own copy of the scenario); the
large-file test gets a server of its own.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pygls import uris
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from datastation.dsl.check import check_source
from datastation.dsl.formatter import format_source

FIXTURE = Path(__file__).resolve().parent / "lsp_fixture"
SERVER = [sys.executable, "-m", "datastation.runtime.cli", "lsp"]
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("lsp")
    shutil.copytree(FIXTURE, d, dirs_exist_ok=True)
    return d


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER), scope="module")
async def client(lsp_client: LanguageClient, workdir: Path):
    _accept_registrations(lsp_client)
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"),
        root_uri=uris.from_fs_path(str(workdir)),
    ))
    yield
    await lsp_client.shutdown_session()


def _accept_registrations(client: LanguageClient) -> None:
    """Accept the server's file watcher registration (as VS Code does)."""
    client.registrations = []

    @client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def register(params: types.RegistrationParams):
        client.registrations.extend(r.method for r in params.registrations)


_counter = iter(range(1000))


async def _open(client: LanguageClient, workdir: Path, text: str | None = None) -> tuple[str, str]:
    """Open a copy of the scenario (or `text`) beside functions.py and wait for its diagnostics."""
    path = workdir / f"doc{next(_counter)}.dsc"
    text = (FIXTURE / "scenario.dsc").read_text() if text is None else text
    path.write_text(text)
    uri = uris.from_fs_path(str(path))
    since = client.diagnostics.get(uri)
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="dsc", version=1, text=text)))
    await _diagnostics_for(client, uri, since=since)
    return uri, text


async def _diagnostics_for(client: LanguageClient, uri: str, since=None):
    """The diagnostics of the next publication for `uri`: pytest-lsp stores a new list on each one,
    so `since` is the list seen before (None: nothing published yet)."""
    async def wait():
        while client.diagnostics.get(uri) is since:
            await asyncio.sleep(0.02)
        return client.diagnostics[uri]

    return await asyncio.wait_for(wait(), 120)


def _pos(text: str, needle: str, nth: int = 0, delta: int = 0) -> types.Position:
    """The position of the nth occurrence of `needle` (plus `delta` characters)."""
    i = -1
    for _ in range(nth + 1):
        i = text.index(needle, i + 1)
    i += delta
    line = text.count("\n", 0, i)
    return types.Position(line=line, character=i - (text.rfind("\n", 0, i) + 1))


def _doc(uri: str) -> types.TextDocumentIdentifier:
    return types.TextDocumentIdentifier(uri=uri)


BROKEN = """use "functions.py"
agent bank1
data bank1.train csv "data/bank1_train.csv"
contract broken {
  by nobody
  compute fraud_model(train = [bank1.train], label = "is_fraud")
  to bank1
}
contract syntax {
  by bank1
  compute rows(bank1.train
}
"""


async def test_diagnostics_match_dsc_check(client: LanguageClient, workdir: Path):
    path = workdir / "broken.dsc"
    path.write_text(BROKEN)
    uri = uris.from_fs_path(str(path))
    since = client.diagnostics.get(uri)
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="dsc", version=1, text=BROKEN)))
    got = await _diagnostics_for(client, uri, since=since)
    expected = check_source(BROKEN, str(path), workdir).diagnostics
    assert expected, "the broken file must have diagnostics"
    assert {d.code for d in expected} >= {"DSC001"}
    want = sorted((d.code, d.span.line - 1, d.span.column - 1, d.span.end_line - 1, d.span.end_column - 1)
                  for d in expected)
    have = sorted((g.code, g.range.start.line, g.range.start.character, g.range.end.line, g.range.end.character)
                  for g in got)
    assert have == want
    assert all(g.source == "dsc" for g in got)

    # fixing the file (an edit) clears the syntax error after the debounced check
    fixed = BROKEN.replace("rows(bank1.train\n", "rows(bank1.train)\n")
    since = client.diagnostics[uri]
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=fixed)]))
    got = await _diagnostics_for(client, uri, since=since)
    assert "DSC001" not in {g.code for g in got}
    assert {g.code for g in got} == {d.code for d in check_source(fixed, str(path), workdir).diagnostics}


async def test_hover_contract_function_data(client: LanguageClient, workdir: Path):
    uri, text = await _open(client, workdir)
    hover = await client.text_document_hover_async(types.HoverParams(
        text_document=_doc(uri), position=_pos(text, "contract joint_model", delta=10)))
    value = hover.contents.value
    for part in ("joint_model", "proposed by", "bank1", "First Bank", "fraud_model(train", "computes on",
                 "bank2.train", "releases the result to", "requires", "rows(bank1.train) >= 10", "ensures"):
        assert part in value, part

    hover = await client.text_document_hover_async(types.HoverParams(
        text_document=_doc(uri), position=_pos(text, "compute fraud_model", delta=9)))
    assert "def fraud_model(train: list, label: str)" in hover.contents.value
    assert "Train a fraud classifier" in hover.contents.value
    assert hover.range == types.Range(start=_pos(text, "compute fraud_model", delta=8),
                                      end=_pos(text, "compute fraud_model", delta=19))

    hover = await client.text_document_hover_async(types.HoverParams(
        text_document=_doc(uri), position=_pos(text, "bank1.train,", delta=7)))
    value = hover.contents.value
    for part in ("data bank1.train", "owner", "First Bank", "csv", "data/bank1_train.csv", "| amount | float |"):
        assert part in value, part

    # a loop variable's data: both agents' elements
    hover = await client.text_document_hover_async(types.HoverParams(
        text_document=_doc(uri), position=_pos(text, "b.test", delta=3)))
    assert "data bank1.test" in hover.contents.value and "data bank2.test" in hover.contents.value

    hover = await client.text_document_hover_async(types.HoverParams(
        text_document=_doc(uri), position=_pos(text, "# Language", delta=3)))
    assert hover is None


async def test_definition(client: LanguageClient, workdir: Path):
    uri, text = await _open(client, workdir)

    async def definition(needle, nth=0, delta=1):
        return await client.text_document_definition_async(types.DefinitionParams(
            text_document=_doc(uri), position=_pos(text, needle, nth, delta)))

    (loc,) = await definition("by      bank1", delta=9)  # agent
    assert loc.uri == uri and loc.range.start == _pos(text, "agent bank1", delta=6)
    (loc,) = await definition("bank2.train,", delta=7)  # data
    assert loc.range.start == _pos(text, "data bank2.train", delta=11)
    (loc,) = await definition("receives joint_model", delta=10)  # contract
    assert loc.range.start == _pos(text, "contract joint_model", delta=9)
    (loc,) = await definition("rows(matched)", delta=6)  # kept result
    assert loc.range.start == _pos(text, "keep matched", delta=5)
    locs = await definition("b.test", delta=3)  # one per agent the loop ranges over
    assert sorted(l.range.start.line for l in locs) == [_pos(text, "data bank1.test").line,
                                                       _pos(text, "data bank2.test").line]
    (loc,) = await definition("compute fraud_model", delta=10)  # into the Python module
    assert loc.uri == uris.from_fs_path(str((workdir / "functions.py").resolve()))
    assert loc.range.start.line == 3  # `def fraud_model` is on line 4
    (loc,) = await definition("rows(bank1.train) >=", delta=1)  # a built-in: into the stdlib
    assert loc.uri.endswith(".py")


async def test_completion(client: LanguageClient, workdir: Path):
    base = (FIXTURE / "scenario.dsc").read_text()
    cases = [
        ("contract extra {\n  by ", "", {"bank1", "bank2"}, {"compute"}),
        ("contract extra {\n  by bank1\n  compute rows(bank1.", ")\n}\n", {"train", "test"}, {"bank1"}),
        ("contract extra {\n  by bank1\n  ", "\n}\n", {"compute", "keep", "require", "ensure", "to"}, {"agent"}),
        ("contract extra {\n  by bank1\n  compute fraud_model(", ")\n}\n",
         {"label =", "train =", "fraud_model", "rows", "bank1", "matched"}, {"result"}),
        ("contract extra {\n  by bank1\n  compute rows(bank1.train)\n  ensure ", "\n}\n",
         {"result", "for", "not", "accuracy"}, set()),
        ("", "", {"contract", "agent", "data", "policy", "never", "goal", "use"}, {"bank1"}),
        ("policy bank1 {\n  allow schema on ", "\n}\n", {"bank1.train", "any", "*"}, set()),
        ("never ", "", {"bank1.train", "bank2.test"}, set()),
        ("goal bank2 receives ", "", {"joint_model", "use_matched"}, {"bank1"}),
    ]
    for before, after, want, unwanted in cases:
        text = base + "\n" + before + after
        uri, _ = await _open(client, workdir, text)
        offset = len(base) + 1 + len(before)
        line = text.count("\n", 0, offset)
        pos = types.Position(line=line, character=offset - (text.rfind("\n", 0, offset) + 1))
        result = await client.text_document_completion_async(types.CompletionParams(
            text_document=_doc(uri), position=pos))
        labels = {i.label for i in result.items}
        assert want <= labels, (before, want - labels)
        assert not (unwanted & labels), (before, unwanted & labels)


async def test_formatting(client: LanguageClient, workdir: Path):
    messy = 'agent   bank1  "First Bank"\nagent bank2\ndata bank1.t csv "t.csv"\n' \
            'contract c {   by bank1 compute rows( bank1.t )   to bank2 }\n'
    uri, _ = await _open(client, workdir, messy)
    edits = await client.text_document_formatting_async(types.DocumentFormattingParams(
        text_document=_doc(uri), options=types.FormattingOptions(tab_size=2, insert_spaces=True)))
    expected, _ = format_source(messy, "x.dsc")
    assert expected is not None and expected != messy
    (edit,) = edits
    assert edit.new_text == expected
    assert edit.range.start == types.Position(line=0, character=0)
    assert edit.range.end == types.Position(line=4, character=0)

    # a broken file is not formatted
    uri, _ = await _open(client, workdir, BROKEN)
    edits = await client.text_document_formatting_async(types.DocumentFormattingParams(
        text_document=_doc(uri), options=types.FormattingOptions(tab_size=2, insert_spaces=True)))
    assert not edits


async def test_document_symbols(client: LanguageClient, workdir: Path):
    uri, text = await _open(client, workdir)
    symbols = await client.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=_doc(uri)))
    names = [s.name for s in symbols]
    for name in ("functions.py", "bank1", "bank2", "bank1.train", "policy bank2", "joint_model", "matched_users"):
        assert name in names, name
    contract = next(s for s in symbols if s.name == "matched_users")
    assert contract.kind == types.SymbolKind.Function
    assert [c.name for c in contract.children] == ["matched"]
    assert contract.selection_range.start == _pos(text, "contract matched_users", delta=9)
    data = next(s for s in symbols if s.name == "bank1.train")
    assert [c.name for c in data.children] == ["id", "amount", "is_fraud"]


async def test_requests_after_an_edit_use_shifted_positions(client: LanguageClient, workdir: Path):
    uri, text = await _open(client, workdir)
    new = "# a new first line\n" + text
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=new)]))
    # answered at once (from the previous analysis, shifted by the edit) or after the new check
    (loc,) = await client.text_document_definition_async(types.DefinitionParams(
        text_document=_doc(uri), position=_pos(new, "by      bank1", delta=9)))
    assert loc.range.start == _pos(new, "agent bank1", delta=6)


def _large_file(contracts: int = 10_000) -> str:
    parts = ['use "functions.py"\nagent bank1 "First Bank"\nagent bank2\n',
             'data bank1.train csv "data/bank1_train.csv"\ndata bank2.train csv "data/bank2_train.csv"\n']
    for i in range(contracts):
        parts.append(f"contract c{i} {{\n  by bank1\n  compute rows(bank1.train)\n  to bank1, bank2\n"
                     f"  require rows(bank2.train) >= {i} and rows(bank1.train) > 1\n}}\n")
    return "".join(parts)


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER))
async def fresh_client(lsp_client: LanguageClient, workdir: Path):
    _accept_registrations(lsp_client)
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"), root_uri=uris.from_fs_path(str(workdir))))
    yield
    await lsp_client.shutdown_session()


@pytest.mark.asyncio(loop_scope="function")
@pytest.mark.parametrize("contracts", [1_000, pytest.param(10_000, marks=pytest.mark.slow)])
async def test_large_file_does_not_block_the_reader(fresh_client: LanguageClient, workdir: Path, contracts: int):
    """While a large file (10,000 contracts with -m slow) is being checked, other requests are answered."""
    small, small_text = await _open(fresh_client, workdir)
    text = _large_file(contracts)
    path = workdir / "large.dsc"
    path.write_text(text)
    uri = uris.from_fs_path(str(path))
    since = fresh_client.diagnostics.get(uri)
    fresh_client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="dsc", version=1, text=text)))
    hover = await fresh_client.text_document_hover_async(types.HoverParams(
        text_document=_doc(small), position=_pos(small_text, "contract joint_model", delta=10)))
    assert "joint_model" in hover.contents.value
    assert uri not in fresh_client.diagnostics, "the large file's check finished before a quick request"
    diags = await _diagnostics_for(fresh_client, uri, since=since)
    assert [d for d in diags if d.severity == types.DiagnosticSeverity.Error] == []
    # once checked, its requests are answered from the index
    hover = await fresh_client.text_document_hover_async(types.HoverParams(
        text_document=_doc(uri), position=_pos(text, f"contract c{contracts - 1} ", delta=10)))
    assert f"c{contracts - 1}" in hover.contents.value
    end = types.Position(line=text.count("\n"), character=0)
    result = await fresh_client.text_document_completion_async(types.CompletionParams(
        text_document=_doc(uri), position=end))
    assert "contract" in {i.label for i in result.items}


async def test_editing_the_module_on_disk_rechecks_open_files(client: LanguageClient, workdir: Path):
    text = (FIXTURE / "scenario.dsc").read_text().replace("join_users(", "join_people(")
    uri, _ = await _open(client, workdir, text)
    assert types.WORKSPACE_DID_CHANGE_WATCHED_FILES in client.registrations
    assert client.diagnostics[uri]  # join_people is not defined yet
    module = workdir / "functions.py"
    original = module.read_text()
    module.write_text(original + '\n\ndef join_people(left, right, on: str):\n    """Join."""\n    return None\n')
    try:
        since = client.diagnostics.get(uri)
        client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(changes=[
            types.FileEvent(uri=uris.from_fs_path(str(module)), type=types.FileChangeType.Changed)]))
        assert not await _diagnostics_for(client, uri, since=since)
    finally:
        module.write_text(original)
