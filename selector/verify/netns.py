"""Real packet loss in the kernel: a network namespace of the run's own, when it may make one.

As root, with ``ip`` and ``iptables`` at hand, a run that asks for loss gets a namespace
named after its pid and a veth pair into it. The fault proxy listens inside the namespace and
the clients reach it across the veth, where ``iptables -m statistic --mode random`` drops
packets both ways: TCP's own retransmission, congestion control and head-of-line blocking
happen in the kernel on the clients' leg. The proxy's leg to the server stays on loopback.
Everything made is removed on exit, whatever happened.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import itertools
import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["KernelPath", "kernel_loss", "kernel_loss_unavailable"]

#: ``CLONE_NEWNET`` from <sched.h>: setns() into a network namespace.
_CLONE_NEWNET = 0x40000000
_COMMAND_TIMEOUT_S = 10.0
_counter = itertools.count()


@dataclass(frozen=True)
class KernelPath:
    """A namespace with a lossy veth link: listen inside it, connect to :attr:`address`."""

    namespace: str
    address: str
    loss_pct: float

    def listen(self) -> socket.socket:
        """A listening TCP socket inside the namespace (port chosen by the kernel)."""
        made: list[socket.socket | BaseException] = []

        def inside() -> None:
            # setns() changes the calling thread only: a short-lived thread enters the
            # namespace, and the socket it makes stays in it after the thread is gone.
            try:
                libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
                with open(f"/run/netns/{self.namespace}", "rb") as ns:
                    if libc.setns(ns.fileno(), _CLONE_NEWNET) != 0:
                        raise OSError(ctypes.get_errno(), "setns failed")
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((self.address, 0))
                sock.listen(1024)
                sock.setblocking(False)
                made.append(sock)
            except BaseException as exc:  # handed to the caller's thread
                made.append(exc)

        thread = threading.Thread(target=inside, name="netns-listen")
        thread.start()
        thread.join()
        result = made[0]
        if isinstance(result, BaseException):
            raise result
        return result

    def describe(self) -> str:
        """How the loss is made, for the report."""
        return (
            f"real packet loss in the kernel: {self.loss_pct:g} % of packets dropped each way "
            f"by iptables on a veth pair into network namespace {self.namespace}, on the "
            "clients' leg (TCP retransmits and blocks behind the loss itself); the proxy's "
            "leg to the server is loopback"
        )


def kernel_loss_unavailable() -> str | None:
    """Why kernel loss cannot be used here (None: it can)."""
    if os.geteuid() != 0:
        return "not root, so no network namespace"
    missing = [tool for tool in ("ip", "iptables") if shutil.which(tool, path=_PATH) is None]
    if missing:
        return f"{' and '.join(missing)} not installed"
    return None


_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])


def _run(*command: str) -> None:
    subprocess.run(
        command,
        check=True,
        capture_output=True,
        timeout=_COMMAND_TIMEOUT_S,
        env={**os.environ, "PATH": _PATH},
    )


@contextlib.contextmanager
def kernel_loss(loss_pct: float) -> Iterator[KernelPath]:
    """A namespace with ``loss_pct`` % packet loss each way on its veth link; removed on exit.

    Raises :class:`OSError` or :class:`subprocess.CalledProcessError` when it cannot be made
    (after removing whatever was made).
    """
    n = next(_counter)
    pid = os.getpid()
    namespace = f"selector-verify-{pid}-{n}"
    host_if, ns_if = f"sv{pid % 100000}h{n}", f"sv{pid % 100000}n{n}"
    subnet = 16 + (pid + n) % 200  # 10.<x>.<y>.0/30, varied so parallel runs rarely share
    host_ip, ns_ip = f"10.213.{subnet}.1", f"10.213.{subnet}.2"
    probability = f"{loss_pct / 100:.6f}"
    made_ns = made_if = False
    try:
        _run("ip", "netns", "add", namespace)
        made_ns = True
        _run("ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        made_if = True
        _run("ip", "link", "set", ns_if, "netns", namespace)
        _run("ip", "addr", "add", f"{host_ip}/30", "dev", host_if)
        _run("ip", "link", "set", host_if, "up")
        inside = ("ip", "netns", "exec", namespace)
        _run(*inside, "ip", "addr", "add", f"{ns_ip}/30", "dev", ns_if)
        _run(*inside, "ip", "link", "set", ns_if, "up")
        _run(*inside, "ip", "link", "set", "lo", "up")
        for chain, flag in (("INPUT", "-i"), ("OUTPUT", "-o")):
            _run(
                *inside, "iptables", "-A", chain, flag, ns_if,
                "-m", "statistic", "--mode", "random", "--probability", probability,
                "-j", "DROP",
            )  # fmt: skip
        yield KernelPath(namespace=namespace, address=ns_ip, loss_pct=loss_pct)
    finally:
        if made_if:
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                _run("ip", "link", "del", host_if)  # removes its peer too
        if made_ns:
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                _run("ip", "netns", "del", namespace)
