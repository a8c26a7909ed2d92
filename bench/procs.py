"""Stopping a helper process the bench started (http.server, nginx): SIGTERM, then
SIGKILL if it is still there after `grace` seconds."""

from __future__ import annotations

import subprocess


def stop(proc: subprocess.Popen, grace: float = 10) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
