"""`python etl.py ...` in a subprocess, its output lines collected as they come, waited on by event."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from typing import Callable

from tests.conftest import PROJECT_DIR


class EtlProcess:
    """The command's stdout and stderr, line by line; `wait_until` wakes on each new line or the end."""

    def __init__(self, env: dict, *args: str):
        self.proc = subprocess.Popen(
            [sys.executable, "etl.py", *args],
            cwd=PROJECT_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._ended = False
        self._changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in iter(self.proc.stdout.readline, ""):
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    def wait_until(self, seen: Callable[[], object], what: str, timeout: float) -> object:
        """`seen()` once it is truthy; fails when the process ends first, or after `timeout` (a hang guard)."""
        with self._changed:
            self._changed.wait_for(lambda: self._ended or seen(), timeout)
            result = seen()
        assert result, f"no {what} (ended: {self._ended}):\n" + "".join(self.lines)
        return result

    def terminate(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=20)
