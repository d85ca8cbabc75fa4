"""What an execution is doing, as the escrow reports it (`Escrow.execute(..., progress=)`): on a
terminal a rich spinner with the stage and the elapsed time; otherwise one plain line per stage.

    with StageProgress(console, prefix="execute: ") as show:
        report = escrow.execute(request, progress=show)
"""

from __future__ import annotations

import time

WORDS = {
    "verifying": "verifying the request, the approvals and the contract's identity",
    "require": "evaluating the requires",
    "compute": "running the function",
    "ensure": "evaluating the ensures on the result",
    "release": "releasing the result",
}


def stderr_console():
    """The console progress goes to: standard error, so that standard output stays the report."""
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


class StageProgress:
    """A progress callback (`show(stage)`) bound to a rich console, used as a context manager."""

    def __init__(self, console, *, prefix: str = ""):
        self.console, self.prefix = console, prefix
        self.stages: list[str] = []
        self._start = time.perf_counter()
        self._live = None
        self._task = None

    def __enter__(self) -> "StageProgress":
        self._start = time.perf_counter()
        if self.console.is_terminal:
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._live = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                                  console=self.console, transient=True)
            self._live.start()
            self._task = self._live.add_task(self._words("starting"), total=None)
        return self

    def _words(self, stage: str) -> str:
        from rich.markup import escape

        return escape(f"{self.prefix}{WORDS.get(stage, stage)}")

    def __call__(self, stage: str) -> None:
        from .common import safe_text

        stage = safe_text(stage)  # a served escrow names the stages: nothing in them acts on the terminal
        self.stages.append(stage)
        if self._live is not None:
            self._live.update(self._task, description=self._words(stage))
            self._live.refresh()
        else:
            from rich.text import Text

            elapsed = time.perf_counter() - self._start
            self.console.print(Text(f"{self.prefix}{stage}: {WORDS.get(stage, stage)} ({elapsed:.1f} s)"))

    def __exit__(self, *exc) -> bool:
        if self._live is not None:
            self._live.stop()
            self._live = None
        return False
