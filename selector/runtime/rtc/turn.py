"""A real TURN relay for runs whose profile forbids UDP: Debian's coturn, on 127.0.0.1.

The run writes a configuration of its own (long-term credentials, plain TCP and UDP
listeners on one loopback port, relay addresses on loopback, no CLI, no database outside the
run's directory), starts ``turnserver`` with it, waits until it accepts connections and ends
that process, by its pid, when the block exits. The client peer then gathers relayed
candidates only, over TCP to the relay: the path a network without UDP leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TURNSERVER", "TurnRelay", "TurnUnavailableError", "coturn", "turnserver_path"]

TURNSERVER = "turnserver"
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0
REALM = "selector.invalid"


class TurnUnavailableError(RuntimeError):
    """coturn is not installed or did not start."""


@dataclass(frozen=True)
class TurnRelay:
    """A running relay: where it listens and the credentials it accepts."""

    host: str
    port: int
    username: str
    password: str

    @property
    def url(self) -> str:
        """The TURN URI of the relay over TCP."""
        return f"turn:{self.host}:{self.port}?transport=tcp"


def turnserver_path() -> str | None:
    """Where coturn's ``turnserver`` is (None when it is not installed)."""
    return shutil.which(TURNSERVER) or next(
        (p for p in ("/usr/bin/turnserver", "/usr/sbin/turnserver") if Path(p).exists()), None
    )


def _free_port() -> int:
    # TCP and UDP on one port number: coturn listens on both.
    for _ in range(20):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise TurnUnavailableError("no free port on 127.0.0.1 for the TURN relay")


def render_config(port: int, username: str, password: str, workdir: Path) -> str:
    """coturn's configuration for one run on loopback."""
    lines = [
        "listening-ip=127.0.0.1",
        "relay-ip=127.0.0.1",
        f"listening-port={port}",
        # Relay ports come from the ephemeral range coturn is given; peers are on loopback,
        # which coturn refuses unless told otherwise.
        "min-port=49152",
        "max-port=65535",
        "allow-loopback-peers",
        "no-tls",
        "no-dtls",
        "no-cli",
        "fingerprint",
        "lt-cred-mech",
        f"realm={REALM}",
        f"user={username}:{password}",
        f"userdb={workdir / 'turndb'}",
        f"pidfile={workdir / 'turnserver.pid'}",
        f"log-file={workdir / 'turnserver.log'}",
        "simple-log",
        "no-software-attribute",
    ]
    return "\n".join(lines) + "\n"


async def _accepting(port: int, process: asyncio.subprocess.Process, log: Path) -> None:
    # The loop's clock, not an injected one: this waits for a real coturn process to bind
    # its port, and nothing that starts it takes a Clock.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_TIMEOUT_S
    while True:
        if process.returncode is not None:
            tail = log.read_text(errors="replace")[-500:] if log.exists() else ""
            raise TurnUnavailableError(f"turnserver exited with {process.returncode}: {tail}")
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if loop.time() > deadline:
                raise TurnUnavailableError(
                    f"turnserver did not accept connections on 127.0.0.1:{port} "
                    f"within {START_TIMEOUT_S:g} s"
                ) from None
            await asyncio.sleep(0.05)
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return


@contextlib.asynccontextmanager
async def coturn() -> AsyncIterator[TurnRelay]:
    """Run coturn on 127.0.0.1 for the block; raises :class:`TurnUnavailableError`."""
    binary = turnserver_path()
    if binary is None:
        raise TurnUnavailableError(
            "coturn is not installed (Debian: apt-get install coturn, or ./scripts/system-deps)"
        )
    with tempfile.TemporaryDirectory(prefix="selector-turn-") as tmp:
        workdir = Path(tmp)
        port = _free_port()
        relay = TurnRelay("127.0.0.1", port, "selector", secrets.token_hex(8))
        config = workdir / "turnserver.conf"
        config.write_text(render_config(port, relay.username, relay.password, workdir))
        process = await asyncio.create_subprocess_exec(
            binary,
            "-c",
            str(config),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            await _accepting(port, process, workdir / "turnserver.log")
            yield relay
        finally:
            if process.returncode is None:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
                except TimeoutError:
                    process.kill()
                    await process.wait()
