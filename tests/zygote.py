"""A zygote: a Python process that imports emojid once, then forks each `emojid` command off
itself. Starting the console script costs ~0.35 s, nearly all imports; a fork costs a few
milliseconds. Each command is still a process of its own, run by `emojid.cli.main` (the
console script's entry point) from its start: its own argv, environment, working
directory, stdin, stdout, stderr and exit status. tests/test_cli.py keeps a few runs of
the real console script, which is what this stands in for.

Two modes: `run` waits for the command and returns what subprocess.run would; `spawn`
starts one (a server) and returns at once: those are reaped by the kernel as they die,
so a pid killed with SIGKILL is gone at once (a zombie's would look alive to the start-up
sweep, which removes only the temp files of dead processes)."""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

_CODE = textwrap.dedent("""
    import json, os, signal, sys, traceback
    import emojid.app, emojid.cli, emojid.cli.daemon, emojid.emoji.lint, emojid.progress
    detached = sys.argv[1] == "spawn"
    if detached:
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    for line in sys.stdin:
        argv, env, cwd, stdin, stdout, stderr = json.loads(line)
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            for fd, path, flags in ((0, stdin, os.O_RDONLY), (1, stdout, os.O_WRONLY | os.O_APPEND),
                                    (2, stderr, os.O_WRONLY | os.O_APPEND)):
                opened = os.open(path, flags)
                os.dup2(opened, fd)
                os.close(opened)
            os.environ.clear()
            os.environ.update(env)
            os.chdir(cwd)
            sys.argv = argv
            code = 1
            try:
                emojid.cli.main()
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
                if not isinstance(exc.code, (int, type(None))):
                    print(exc.code, file=sys.stderr)
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        if detached:
            print(pid, flush=True)
        else:
            print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), flush=True)
""")


class Forked:
    """A command forked off a spawning zygote, through the part of Popen's interface the
    tests use."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def poll(self) -> int | None:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return -1  # gone (and reaped); its exit status went to the zygote
        return None

    def send_signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while (code := self.poll()) is None:
            if time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout)
            time.sleep(0.002)
        return code


class Zygote:
    def __init__(self, mode: str) -> None:
        assert mode in ("run", "spawn")
        self.process = subprocess.Popen([sys.executable, "-c", _CODE, mode], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)

    def _ask(self, argv: list[str], env: dict[str, str], cwd: Path | str, stdin: str, stdout: str,
             stderr: str) -> int:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps([argv, env, str(cwd), stdin, stdout, stderr]) + "\n")
        self.process.stdin.flush()
        if not select.select([self.process.stdout], [], [], 120)[0]:
            self.process.kill()
            raise subprocess.TimeoutExpired(argv, 120)
        return int(self.process.stdout.readline())

    def spawn(self, argv: list[str], env: dict[str, str], log: Path) -> Forked:
        """Start `argv` (argv[0] the program name), stdout and stderr appended to `log`."""
        return Forked(self._ask(argv, env, os.getcwd(), os.devnull, str(log), str(log)))

    def run(self, argv: list[str], env: dict[str, str], input: str | None = None,
            cwd: Path | str | None = None) -> subprocess.CompletedProcess[str]:
        """`argv` to its end, as subprocess.run(argv, input=input, capture_output=True, text=True)."""
        with tempfile.TemporaryDirectory(prefix="zygote-") as tmp:
            paths = [os.path.join(tmp, name) for name in ("stdin", "stdout", "stderr")]
            for path in paths:
                Path(path).write_text("")
            if input is not None:
                Path(paths[0]).write_text(input)
            code = self._ask(argv, env, cwd or os.getcwd(), *paths)
            return subprocess.CompletedProcess(argv, code, Path(paths[1]).read_text(), Path(paths[2]).read_text())

    def close(self) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()
        self.process.wait(10)
        self.process.stdout.close()


_runner: Zygote | None = None


def runner() -> Zygote:
    """This test process's zygote in `run` mode, started on first use."""
    global _runner
    if _runner is None:
        _runner = Zygote("run")
        atexit.register(_runner.close)
    return _runner
