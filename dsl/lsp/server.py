"""The .dsc language server (pygls, stdio): diagnostics, hover, definition, completion, formatting, outline.

Checks run in worker threads, never on the event loop that reads the client's messages, and
are debounced while the user types. Requests answer from the last finished analysis; when the
text has changed since, positions are mapped across the edit (`positions.Shift`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import threading
from dataclasses import dataclass, field
from pathlib import Path

from lsprotocol import types
from pygls import uris
from pygls.lsp.server import LanguageServer

from ..checks import unused_agents, unused_data, unused_kept
from ..diagnostics import Diagnostic, Severity
from . import index as K
from .analysis import Analysis, analyze
from .completion import complete
from .hover import hover_text
from .outline import document_symbols
from .positions import LineIndex, Shift

log = logging.getLogger(__name__)

DEBOUNCE = 0.3  # seconds of quiet typing before a check starts
FIRST_ANALYSIS_TIMEOUT = 120.0
COMPLETION_WAIT = 1.0
_UNNECESSARY = frozenset(unused_agents.CODES + unused_data.CODES + unused_kept.CODES)
_SEVERITY = {
    Severity.ERROR: types.DiagnosticSeverity.Error,
    Severity.WARNING: types.DiagnosticSeverity.Warning,
    Severity.INFO: types.DiagnosticSeverity.Information,
}


class _Worker:
    """Daemon threads for checks and formatting: a running check never delays exit."""

    def __init__(self, threads: int = 2):
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        for i in range(threads):
            threading.Thread(target=self._loop, name=f"dsc-lsp-worker-{i}", daemon=True).start()

    def _loop(self) -> None:
        while True:
            fut, fn, args = self._queue.get()
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fn(*args))
            except BaseException as exc:  # handed to the awaiting coroutine
                fut.set_exception(exc)

    def run(self, fn, *args) -> asyncio.Future:
        fut: concurrent.futures.Future = concurrent.futures.Future()
        self._queue.put((fut, fn, args))
        return asyncio.wrap_future(fut)


@dataclass
class _Doc:
    uri: str
    path: str
    generation: int = 0
    analysis: Analysis | None = None
    closed: bool = False
    force: bool = False  # check even if the text did not change (a module changed on disk)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _lines: tuple | None = None  # (text, LineIndex) of the current text
    _shift: tuple | None = None  # (analysis, text, Shift) of the last request

    def shift_for(self, a: Analysis, text: str) -> Shift:
        if self._shift is None or self._shift[0] is not a or self._shift[1] is not text:
            self._shift = (a, text, Shift(a.text, text))
        return self._shift[2]

    def lines_for(self, text: str, encoding: str) -> LineIndex:
        if self._lines is None or self._lines[0] is not text:
            self._lines = (text, LineIndex(text, encoding))
        return self._lines[1]


def _path_of(uri: str) -> str:
    path = uris.to_fs_path(uri)
    return path if path else "<untitled>.dsc"


class DscLanguageServer(LanguageServer):
    def __init__(self):
        from importlib.metadata import PackageNotFoundError, version

        try:
            v = version("datastation")
        except PackageNotFoundError:  # pragma: no cover - source tree without metadata
            v = "0+unknown"
        super().__init__("dsc", v)
        self.docs: dict[str, _Doc] = {}
        self.worker = _Worker()

    @property
    def encoding(self) -> str:
        encoding = self.workspace.position_encoding or "utf-16"
        return getattr(encoding, "value", encoding)

    # ------------------------------------------------------------ checking
    def schedule(self, uri: str, delay: float) -> None:
        doc = self.docs.get(uri)
        if doc is None:
            doc = self.docs[uri] = _Doc(uri=uri, path=_path_of(uri))
        doc.generation += 1
        asyncio.get_running_loop().create_task(self._check(doc, doc.generation, delay))

    async def _check(self, doc: _Doc, generation: int, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        if doc.generation != generation or doc.closed:
            return  # a newer change will be checked instead
        async with doc.lock:
            if doc.generation != generation or doc.closed:
                return
            text_doc = self.workspace.get_text_document(doc.uri)
            text, version = text_doc.source, text_doc.version
            if doc.analysis is not None and doc.analysis.text == text and not doc.force:
                return  # already checked (e.g. a save right after the debounced check)
            doc.force = False
            try:
                analysis, diagnostics = await self.worker.run(self._analyze, text, doc.path, version)
            except Exception as exc:  # never let a checker bug kill the server
                log.exception("check failed")
                self.window_log_message(types.LogMessageParams(
                    type=types.MessageType.Error, message=f"dsc: internal error while checking {doc.path}: {exc}"))
                return
        if doc.closed:
            return
        doc.analysis = analysis
        doc.ready.set()
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
            uri=doc.uri, version=version, diagnostics=diagnostics))

    def _analyze(self, text: str, path: str, version: int | None):
        """In a worker thread: the analysis and its diagnostics in LSP form."""
        analysis = analyze(text, path, version, self.encoding)
        return analysis, self.lsp_diagnostics(analysis)

    def recheck_all(self) -> None:
        """Modules or data files changed on disk: check every open document again."""
        for uri, doc in self.docs.items():
            if not doc.closed:
                doc.force = True
                self.schedule(uri, DEBOUNCE)

    def lsp_diagnostics(self, a: Analysis) -> list[types.Diagnostic]:
        return [self._diagnostic(a, d) for d in a.result.diagnostics]

    def _diagnostic(self, a: Analysis, d: Diagnostic) -> types.Diagnostic:
        related = [
            types.DiagnosticRelatedInformation(location=self._location(a, r.span), message=r.message)
            for r in d.related
        ]
        return types.Diagnostic(
            range=self._range(a, d.span),
            message=d.message + (f"\nhelp: {d.help}" if d.help else ""),
            severity=_SEVERITY.get(d.severity, types.DiagnosticSeverity.Error),
            code=d.code,
            source="dsc",
            related_information=related or None,
            tags=[types.DiagnosticTag.Unnecessary] if d.code in _UNNECESSARY else None,
        )

    def _range(self, a: Analysis, span) -> types.Range:
        if span.file in (a.path, "<input>") or not span.file:
            return a.lines.span_range(span)
        return LineIndex("").span_range(span.__class__(file=span.file, line=span.line, column=span.column,
                                                        end_line=span.end_line, end_column=span.end_column))

    def _location(self, a: Analysis, span) -> types.Location:
        same = span.file in (a.path, "<input>") or not span.file
        uri = uris.from_fs_path(a.path if same else span.file) or span.file
        return types.Location(uri=uri, range=self._range(a, span))

    # ------------------------------------------------------------ requests
    async def view(self, uri: str, wait: float = FIRST_ANALYSIS_TIMEOUT):
        """(analysis, shift from the current text to the analysed one, current line index, current text).

        Waits at most `wait` seconds for the document's first analysis; None if there is none yet.
        """
        doc = self.docs.get(uri)
        if doc is None:
            self.schedule(uri, 0)
            doc = self.docs[uri]
        if doc.analysis is None:
            try:
                await asyncio.wait_for(doc.ready.wait(), wait)
            except asyncio.TimeoutError:
                return None
        a = doc.analysis
        text = self.workspace.get_text_document(uri).source
        return a, doc.shift_for(a, text), doc.lines_for(text, self.encoding), text

    async def occurrence_at(self, uri: str, position: types.Position):
        view = await self.view(uri)
        if view is None:
            return None
        a, shift, lines, _ = view
        old = shift.to_old(lines.offset(position))
        if old is None:
            return None
        occ = a.index.at(old)
        return (a, shift, lines, occ) if occ is not None else None

    def new_range(self, shift: Shift, lines: LineIndex, start: int, end: int) -> types.Range | None:
        s, e = shift.to_new(start), shift.to_new(end)
        if s is None or e is None:
            return None
        return lines.range(s, e)

    def definitions(self, a: Analysis, shift: Shift, lines: LineIndex, occ: K.Occurrence) -> list[types.Location]:
        sym = a.symbols
        here = uris.from_fs_path(a.path) or a.path
        spans = []
        if occ.kind == K.AGENT and occ.key in sym.agents:
            spans.append(sym.agents[occ.key].name.span)
        elif occ.kind == K.DATA:
            spans += [sym.data[k].name.span for k in (occ.keys or (occ.key,)) if k in sym.data]
        elif occ.kind == K.CONTRACT and occ.key in sym.contracts:
            spans.append(sym.contracts[occ.key].name.span)
        elif occ.kind == K.KEPT and occ.key in sym.kept:
            spans.append(sym.kept[occ.key].keep_as.span)
        elif occ.kind == K.VARIABLE and occ.def_span is not None:
            spans.append(occ.def_span)
        elif occ.kind == K.RESULT_KIND and occ.context is not None and occ.context.call is not None:
            spans.append(occ.context.call.span)
        elif occ.kind in (K.FUNCTION, K.PARAM):
            name = occ.key if occ.kind == K.FUNCTION else occ.context.func.name
            sig = sym.functions.get(name)
            if sig is not None and sig.path is not None:
                pos = types.Position(line=max(sig.line - 1, 0), character=max(sig.column - 1, 0))
                return [types.Location(uri=uris.from_fs_path(str(Path(sig.path).resolve())) or str(sig.path),
                                       range=types.Range(start=pos, end=pos))]
        out = []
        for s in spans:
            rng = self.new_range(shift, lines, s.start, s.end)
            if rng is not None:
                out.append(types.Location(uri=here, range=rng))
        return out


server = DscLanguageServer()


@server.feature(types.INITIALIZED)
async def initialized(ls: DscLanguageServer, params: types.InitializedParams) -> None:
    """Ask the client to report changes to Python modules and data, which change the diagnostics."""
    caps = ls.client_capabilities.workspace
    watched = caps.did_change_watched_files if caps is not None else None
    if watched is None or not watched.dynamic_registration:
        return
    options = types.DidChangeWatchedFilesRegistrationOptions(watchers=[
        types.FileSystemWatcher(glob_pattern=pattern) for pattern in ("**/*.py", "**/*.dsc", "**/*.csv")
    ])
    try:
        await ls.client_register_capability_async(types.RegistrationParams(registrations=[
            types.Registration(id="dsc-watch-files", method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                               register_options=options)]))
    except Exception:  # a client that refuses only loses re-checks on disk changes
        log.info("the client did not accept the file watcher registration")


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: DscLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
    doc = ls.docs.get(params.text_document.uri)
    if doc is not None:
        doc.closed = False
    ls.schedule(params.text_document.uri, 0)


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: DscLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
    ls.schedule(params.text_document.uri, DEBOUNCE)


@server.feature(types.TEXT_DOCUMENT_DID_SAVE)
def did_save(ls: DscLanguageServer, params: types.DidSaveTextDocumentParams) -> None:
    ls.schedule(params.text_document.uri, 0)


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: DscLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
    doc = ls.docs.pop(params.text_document.uri, None)
    if doc is not None:
        doc.closed = True
    ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[]))


@server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
def did_change_watched_files(ls: DscLanguageServer, params: types.DidChangeWatchedFilesParams) -> None:
    ls.recheck_all()


@server.feature(types.TEXT_DOCUMENT_HOVER)
async def hover(ls: DscLanguageServer, params: types.HoverParams) -> types.Hover | None:
    found = await ls.occurrence_at(params.text_document.uri, params.position)
    if found is None:
        return None
    a, shift, lines, occ = found
    text = hover_text(a, occ)
    if not text:
        return None
    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text),
                       range=ls.new_range(shift, lines, occ.start, occ.end))


@server.feature(types.TEXT_DOCUMENT_DEFINITION)
async def definition(ls: DscLanguageServer, params: types.DefinitionParams) -> list[types.Location] | None:
    found = await ls.occurrence_at(params.text_document.uri, params.position)
    if found is None:
        return None
    return ls.definitions(*found) or None


@server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=["."]))
async def completion(ls: DscLanguageServer, params: types.CompletionParams) -> types.CompletionList:
    # keywords need no analysis: do not keep the user waiting for the first check of a huge file
    view = await ls.view(params.text_document.uri, wait=COMPLETION_WAIT)
    text = ls.workspace.get_text_document(params.text_document.uri).source
    a = view[0] if view else None
    lines = view[2] if view else LineIndex(text, ls.encoding)
    items = complete(a, text, lines.offset(params.position))
    return types.CompletionList(is_incomplete=False, items=items)


@server.feature(types.TEXT_DOCUMENT_FORMATTING)
async def formatting(ls: DscLanguageServer, params: types.DocumentFormattingParams) -> list[types.TextEdit] | None:
    from ..formatter import format_source

    doc = ls.workspace.get_text_document(params.text_document.uri)
    text = doc.source
    try:
        formatted, diags = await ls.worker.run(format_source, text, _path_of(doc.uri))
    except Exception as exc:  # the formatter must never take the server down
        log.exception("format failed")
        ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Error,
                                                       message=f"dsc fmt: internal error: {exc}"))
        return None
    if formatted is None:
        first = diags[0] if diags else None
        reason = f": {first.code} {first.message} (line {first.span.line})" if first else ""
        ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Warning,
                                                       message=f"dsc fmt: not formatted{reason}"))
        return None
    if formatted == text:
        return []
    lines = LineIndex(text, ls.encoding)
    return [types.TextEdit(range=types.Range(start=types.Position(line=0, character=0), end=lines.end()),
                           new_text=formatted)]


@server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
async def symbols(ls: DscLanguageServer, params: types.DocumentSymbolParams) -> list[types.DocumentSymbol] | None:
    view = await ls.view(params.text_document.uri)
    if view is None:
        return None
    a, shift, lines, _ = view
    if shift.same:
        range_of = a.lines.span_range
    else:
        def range_of(span):
            return ls.new_range(shift, lines, span.start, span.end)
    # thousands of symbols: built in a worker so the reader keeps going
    return await ls.worker.run(document_symbols, a, range_of)


def main() -> int:
    """Serve over stdin/stdout until the client says exit."""
    server.start_io()
    return 0
