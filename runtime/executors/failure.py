"""What the escrow says about a function that failed or was stopped: never a message from data.

A failure is reported by the exception's type and the line of the user's module it came
from (`fraud_model raised KeyError at functions.py:12`), never by its message: user code, a
library or a value can put data in a message. Only a built-in (stdlib) function's own
`BuiltinError` keeps its words, which the stdlib writes without data.

The facts travel as a small dict (`exception_info`), written where the function ran (the
full-trust child process, or the no-trust runner, where this file is mounted as
`dsc_failure.py`), and are turned into text by the escrow (`describe_failure`), which trusts
none of them: a type name is shown only if it is a Python built-in exception or a class
defined in the approved module text, a line only if the module has it. So both modes describe
the same exception identically, and code that forges the facts can choose among a few words,
not write a message. Imports nothing but the Python standard library.
"""

from __future__ import annotations

import ast
import builtins

MAX_TYPES = 16
MESSAGE_LIMIT = 300
# A short-circuit names the kind of thing that was refused (the caller's categories are checked).
BLOCKED = {
    "data": "a read of a data element outside the contract",
    "file": "access to a file outside the contract",
    "write": "a write outside the function's scratch space",
    "network": "network access",
    "process": "process creation or signalling",
    "escrow": "access to the escrow's store",
    "introspection": "introspection of the escrow's code",
    "code": "deserialisation of code",
}
# The audit events a short-circuit may name (`network access (socket.connect)`).
EVENTS = frozenset({
    "open", "os.listdir", "os.scandir", "os.chdir", "os.symlink", "os.link", "os.rename", "os.remove",
    "os.rmdir", "os.mkdir", "shutil.copyfile", "socket.__new__", "socket.connect", "socket.bind",
    "socket.sendto", "socket.sendmsg", "socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr",
    "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
    "os.kill", "os.killpg", "sqlite3.connect", "gc.get_objects", "gc.get_referrers", "gc.get_referents",
    "pickle.find_class",
})
STAGES = ("load", "call", "result")


def exception_info(exc: BaseException, code_file: str | None, *, stage: str = "call",
                   builtin_message: bool = False) -> dict:
    """The facts about `exc` a report may use: its classes' names (most derived first), the line
    of the innermost frame whose code comes from `code_file` (the user's module), and, with
    `builtin_message`, the message of a stdlib `BuiltinError`."""
    names = [c.__name__ for c in type(exc).__mro__ if c is not object][:MAX_TYPES]
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if code_file is not None and tb.tb_frame.f_code.co_filename == code_file:
            line = tb.tb_lineno
        tb = tb.tb_next
    info: dict = {"stage": stage, "types": [n for n in names if isinstance(n, str)], "line": line}
    if builtin_message:
        from datastation.stdlib.errors import BuiltinError

        if isinstance(exc, BuiltinError):
            info["message"] = str(exc)[:MESSAGE_LIMIT]
    return info


def _builtin_exception(name: str) -> bool:
    value = getattr(builtins, name, None)
    return isinstance(value, type) and issubclass(value, BaseException)


def _classes_in(source: str | None) -> frozenset[str]:
    if not source:
        return frozenset()
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return frozenset()
    return frozenset(n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef))


def trusted_type(types, source: str | None) -> str:
    """The first of `types` a report may name: a built-in exception, a stdlib error type, or a
    class the approved module defines; else "an exception"."""
    known = _classes_in(source)
    for name in types if isinstance(types, list) else []:
        if not isinstance(name, str):
            continue
        if _builtin_exception(name) or name in ("BuiltinError", "SerializeError") or name in known:
            return name
    return "an exception"


def _clean(text: str) -> str:
    return "".join(ch if ch.isprintable() else " " for ch in text)[:MESSAGE_LIMIT]


def describe_failure(info, *, function: str, origin: str, module: str, source: str | None = None,
                     line_map: tuple[int, ...] = ()) -> str:
    """The text a report shows for a failure described by `info` (see the module doc); with
    `line_map` (closure line -> module line) the line is the one of the user's module."""
    if not isinstance(info, dict):
        return f"{function} failed"
    stage = info.get("stage") if info.get("stage") in STAGES else "call"
    if stage == "result":
        return (f"the result of {function} cannot be released: it must be a table, a model or plain JSON "
                f"values (numbers, strings, lists, mappings with string keys)")
    kind = trusted_type(info.get("types"), source if origin == "user" else None)
    line = info.get("line")
    lines = (source or "").count("\n") + 1
    where = ""
    if origin == "user" and isinstance(line, int) and not isinstance(line, bool) and 1 <= line <= lines:
        if line_map and line <= len(line_map) and line_map[line - 1] > 0:
            line = line_map[line - 1]
        where = f" at {module}:{line}"
    who = f"loading {module}" if stage == "load" else function
    text = f"{who} raised {kind}{where}"
    message = info.get("message")
    if origin == "stdlib" and kind == "BuiltinError" and isinstance(message, str) and message:
        text += f": {_clean(message)}"
    return text


def describe_blocked(category, event=None) -> str:
    """What a short-circuit refused, in words (`network access (socket.connect)`)."""
    text = BLOCKED.get(category, "an access outside the contract") if isinstance(category, str) else \
        "an access outside the contract"
    return text + (f" ({event})" if isinstance(event, str) and event in EVENTS else "")
