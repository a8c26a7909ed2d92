"""Progress of long operations: how services report it, and how the CLI shows it.

Services take an optional `progress: Meters | None`. A `Meters` hands out one
`Meter` per step of the work (a download, an unpacking, a walk of the store),
with a label and a unit: "bytes", or any countable noun ("files", "packs").
A meter is called with (done so far, total or None) as the work goes, from
any thread, and closed when the step ends, whether it succeeded or not:

    with metered(progress, f"Unpacking {name}", "files") as meter:
        for i, filename in enumerate(files, 1):
            ...
            if meter:
                meter(i, len(files))

`Bars` is the CLI's Meters: rich progress bars on stderr (amount, rate, ETA),
only when stderr is a terminal and not silenced; otherwise every meter is a
no-op and nothing is printed. `rich` is imported only when bars are shown.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import Iterator
from typing import Any, Protocol

BYTES = "bytes"


class Meter(Protocol):
    """One step's progress: (done, total or None) as it goes, then closed."""

    def __call__(self, done: int, total: int | None) -> None: ...

    def close(self) -> None: ...


class Meters(Protocol):
    """Makes the meter of one step, given its label and unit ("bytes", "files", ...)."""

    def __call__(self, label: str, unit: str = BYTES) -> Meter: ...


@contextlib.contextmanager
def metered(progress: Meters | None, label: str, unit: str = BYTES) -> Iterator[Meter | None]:
    """The meter of one step (None without `progress`), closed however the step ends."""
    meter = progress(label, unit) if progress is not None else None
    try:
        yield meter
    finally:
        if meter is not None:
            meter.close()


class _NoMeter:
    def __call__(self, done: int, total: int | None) -> None:
        pass

    def close(self) -> None:
        pass


class _BarMeter:
    """One rich task; thread-safe as rich's Progress is."""

    def __init__(self, bars: Any, task: Any) -> None:
        self.bars = bars
        self.task = task

    def __call__(self, done: int, total: int | None) -> None:
        self.bars.update(self.task, completed=done, total=total)

    def close(self) -> None:
        task = next((t for t in self.bars.tasks if t.id == self.task), None)
        if task is not None and task.total is None:
            # Its size was never known: what was done is the whole.
            self.bars.update(self.task, total=task.completed)
        self.bars.stop_task(self.task)


def _columns() -> list[Any]:
    from rich import filesize
    from rich.progress import (
        BarColumn,
        ProgressColumn,
        Task,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class Amount(ProgressColumn):
        """'1.2/3.4 MB' for bytes, '12/40 files' otherwise."""

        def render(self, task: Task) -> Text:
            unit = task.fields.get("unit", BYTES)
            if unit == BYTES:
                total = filesize.decimal(int(task.total)) if task.total is not None else "?"
                return Text(f"{filesize.decimal(int(task.completed))}/{total}", style="progress.download")
            total_items = int(task.total) if task.total is not None else "?"
            return Text(f"{int(task.completed)}/{total_items} {unit}", style="progress.download")

    class Rate(ProgressColumn):
        """'1.2 MB/s' for bytes, '35.0 files/s' otherwise."""

        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            if speed is None and task.elapsed and task.completed:
                speed = task.completed / task.elapsed  # too quick for rich's samples: the average
            if speed is None:
                return Text("?", style="progress.data.speed")
            unit = task.fields.get("unit", BYTES)
            text = f"{filesize.decimal(int(speed))}/s" if unit == BYTES else f"{speed:.1f} {unit}/s"
            return Text(text, style="progress.data.speed")

    return [TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), Amount(), Rate(),
            TextColumn("ETA"), TimeRemainingColumn()]


class Bars:
    """The progress bars of one CLI command, on stderr.

    Shown only when `enabled` (the CLI passes: stderr is a terminal and no
    `-q`). While they are shown, whatever the command prints to stdout or
    stderr (a terminal) is written above them, so lines and bars never mix.

    Usage:
        with Bars(enabled=sys.stderr.isatty()) as bars:
            await remote_packs.download(url, name, progress=bars)
    """

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._progress: Any = None
        self._lock = threading.Lock()

    def __enter__(self) -> Bars:
        if self.enabled:
            from rich.console import Console
            from rich.progress import Progress

            console = Console(file=sys.stderr, stderr=True)
            self._progress = Progress(*_columns(), console=console, redirect_stdout=sys.stdout.isatty(),
                                      redirect_stderr=True)
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    @property
    def live(self) -> bool:
        return self._progress is not None

    def __call__(self, label: str, unit: str = BYTES) -> Meter:
        if self._progress is None:
            return _NoMeter()
        with self._lock:
            task = self._progress.add_task(label, total=None, unit=unit)
        return _BarMeter(self._progress, task)


class EchoHandler(logging.Handler):
    """Log records as `LEVEL logger: message` lines on the current sys.stderr, so that
    while bars are shown they go above them (emojid.logs' format)."""

    def __init__(self, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        from emojid.logs import FORMAT

        self.setFormatter(logging.Formatter(FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:
            self.handleError(record)


__all__ = ["BYTES", "Bars", "EchoHandler", "Meter", "Meters", "metered"]
