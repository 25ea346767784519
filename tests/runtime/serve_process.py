"""``selector serve`` as a real subprocess, ended only by its own pid."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.runtime.conftest import UNIT


class ServeProcess:
    """Starts ``python -m selector serve`` with stderr in a file and finds its port there."""

    def __init__(self, log_path: Path, *args: str, port: int = 0) -> None:
        self.log_path = log_path
        self.args = args
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> int:
        """Start and wait for the ``server.listening`` log line; returns the port."""
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "selector", "serve", "--port", str(self.port), *self.args],
                stdout=subprocess.DEVNULL,
                stderr=log,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        deadline = time.monotonic() + 15 * UNIT
        while time.monotonic() < deadline:
            for line in self.log_path.read_bytes()[offset:].splitlines():
                if line.startswith(b"{") and b'"server.listening"' in line:
                    self.port = int(json.loads(line)["port"])
                    return self.port
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited: {self.log_path.read_text()[-2000:]}")
            time.sleep(0.02)
        self.stop(signal.SIGKILL)
        raise TimeoutError("serve did not start")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> int:
        """Send ``sig`` to our own process and wait for it; returns its exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout * UNIT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
            raise

    def log_events(self) -> list[dict[str, object]]:
        """The structured log lines written so far."""
        return [
            json.loads(line)
            for line in self.log_path.read_bytes().splitlines()
            if line.startswith(b"{")
        ]
