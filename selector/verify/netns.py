"""Network namespaces of the run's own, for real packet loss in the kernel.

As root, with ``ip`` and ``iptables`` at hand, a run can make a namespace named after its pid
(:func:`namespace`), run code inside it (:meth:`Namespace.call`: a thread that entered it, so
every socket that thread makes lives there) and drop packets in it with
``iptables -m statistic --mode random`` (:meth:`Namespace.drop`). Everything made is removed
on exit, whatever happened.

:func:`kernel_loss` builds the verify run's path on it: a veth pair into the namespace, with
loss both ways on the veth. The fault proxy listens inside the namespace and the clients reach
it across the veth, so TCP's own retransmission, congestion control and head-of-line blocking
happen in the kernel on the clients' leg. The proxy's leg to the server stays on loopback.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import fcntl
import heapq
import itertools
import os
import select
import shutil
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

__all__ = [
    "DelayedLink",
    "KernelPath",
    "Namespace",
    "delayed_link",
    "kernel_loss",
    "kernel_loss_unavailable",
    "namespace",
]

T = TypeVar("T")

#: ``CLONE_NEWNET`` from <sched.h>: setns() into a network namespace.
_CLONE_NEWNET = 0x40000000
_COMMAND_TIMEOUT_S = 10.0
_counter = itertools.count()
_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])


def kernel_loss_unavailable() -> str | None:
    """Why kernel loss cannot be used here (None: it can)."""
    if os.geteuid() != 0:
        return "not root, so no network namespace"
    missing = [tool for tool in ("ip", "iptables") if shutil.which(tool, path=_PATH) is None]
    if missing:
        return f"{' and '.join(missing)} not installed"
    return None


def _run(*command: str) -> None:
    subprocess.run(
        command,
        check=True,
        capture_output=True,
        timeout=_COMMAND_TIMEOUT_S,
        env={**os.environ, "PATH": _PATH},
    )


@dataclass(frozen=True)
class Namespace:
    """A network namespace made by :func:`namespace` (its loopback is up)."""

    name: str

    def run(self, *command: str) -> None:
        """Run ``command`` inside the namespace (``ip netns exec``); raises
        :class:`subprocess.CalledProcessError` when it fails."""
        _run("ip", "netns", "exec", self.name, *command)

    def call(self, work: Callable[[], T]) -> T:
        """``work()`` in a thread that entered the namespace; its result or its exception.

        setns() changes the calling thread only: a short-lived thread enters the namespace,
        and every socket it makes stays there after the thread is gone. Run a whole event
        loop this way (``ns.call(lambda: asyncio.run(main()))``) and its servers and clients
        all live in the namespace."""
        result: list[T] = []
        failure: list[BaseException] = []

        def inside() -> None:
            try:
                libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
                with open(f"/run/netns/{self.name}", "rb") as ns:
                    if libc.setns(ns.fileno(), _CLONE_NEWNET) != 0:
                        raise OSError(ctypes.get_errno(), "setns failed")
                result.append(work())
            except BaseException as exc:  # handed to the caller's thread
                failure.append(exc)

        thread = threading.Thread(target=inside, name=f"netns-{self.name}")
        thread.start()
        thread.join()
        if failure:
            raise failure[0]
        return result[0]

    @contextlib.contextmanager
    def drop(
        self, loss_pct: float, *, interface: str = "lo", match: tuple[str, ...] = ()
    ) -> Iterator[None]:
        """Drop ``loss_pct`` % of the packets entering and leaving ``interface`` (those
        ``match``, iptables match arguments, select) for the block. On loopback every packet
        both leaves and enters the interface, so only entering ones are dropped there: each
        packet is dropped once with that chance, whichever way it goes."""
        probability = f"{loss_pct / 100:.6f}"
        chains = (("INPUT", "-i"),) if interface == "lo" else (("INPUT", "-i"), ("OUTPUT", "-o"))
        rules = [
            (chain, flag, interface, *match, "-m", "statistic", "--mode", "random",
             "--probability", probability, "-j", "DROP")
            for chain, flag in chains
        ]  # fmt: skip
        added: list[tuple[str, ...]] = []
        try:
            for rule in rules:
                self.run("iptables", "-A", *rule)
                added.append(rule)
            yield
        finally:
            for rule in added:
                with contextlib.suppress(subprocess.SubprocessError, OSError):
                    self.run("iptables", "-D", *rule)


@contextlib.contextmanager
def namespace(prefix: str = "selector-verify") -> Iterator[Namespace]:
    """A fresh network namespace named after this process, its loopback up; removed on exit.

    Raises :class:`OSError` or :class:`subprocess.CalledProcessError` when it cannot be made
    (after removing whatever was made)."""
    name = f"{prefix}-{os.getpid()}-{next(_counter)}"
    _run("ip", "netns", "add", name)
    try:
        made = Namespace(name)
        made.run("ip", "link", "set", "lo", "up")
        yield made
    finally:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            _run("ip", "netns", "del", name)


@dataclass(frozen=True)
class KernelPath:
    """A namespace with a lossy veth link: listen inside it, connect to :attr:`address`."""

    namespace: Namespace
    address: str
    loss_pct: float

    def listen(self) -> socket.socket:
        """A listening TCP socket inside the namespace (port chosen by the kernel)."""

        def make() -> socket.socket:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.address, 0))
            sock.listen(1024)
            sock.setblocking(False)
            return sock

        return self.namespace.call(make)

    def describe(self) -> str:
        """How the loss is made, for the report."""
        return (
            f"real packet loss in the kernel: {self.loss_pct:g} % of packets dropped each way "
            f"by iptables on a veth pair into network namespace {self.namespace.name}, on the "
            "clients' leg (TCP retransmits and blocks behind the loss itself); the proxy's "
            "leg to the server is loopback"
        )


@contextlib.contextmanager
def kernel_loss(loss_pct: float) -> Iterator[KernelPath]:
    """A namespace with ``loss_pct`` % packet loss each way on its veth link; removed on exit.

    Raises :class:`OSError` or :class:`subprocess.CalledProcessError` when it cannot be made
    (after removing whatever was made).
    """
    with namespace() as ns:
        pid, n = os.getpid(), next(_counter)
        host_if, ns_if = f"sv{pid % 100000}h{n}", f"sv{pid % 100000}n{n}"
        subnet = 16 + (pid + n) % 200  # 10.<x>.<y>.0/30, varied so parallel runs rarely share
        host_ip, ns_ip = f"10.213.{subnet}.1", f"10.213.{subnet}.2"
        made_if = False
        try:
            _run("ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if)
            made_if = True
            _run("ip", "link", "set", ns_if, "netns", ns.name)
            _run("ip", "addr", "add", f"{host_ip}/30", "dev", host_if)
            _run("ip", "link", "set", host_if, "up")
            ns.run("ip", "addr", "add", f"{ns_ip}/30", "dev", ns_if)
            ns.run("ip", "link", "set", ns_if, "up")
            with ns.drop(loss_pct, interface=ns_if):
                yield KernelPath(namespace=ns, address=ns_ip, loss_pct=loss_pct)
        finally:
            if made_if:
                with contextlib.suppress(subprocess.SubprocessError, OSError):
                    _run("ip", "link", "del", host_if)  # removes its peer too


#: ioctl and flags of /dev/net/tun (<linux/if_tun.h>): a TUN device without packet info.
_TUNSETIFF = 0x400454CA
_IFF_TUN = 0x0001
_IFF_NO_PI = 0x1000


def _open_tun(name: str) -> int:
    """A TUN device ``name`` in the calling thread's namespace; its file descriptor."""
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    try:
        fcntl.ioctl(fd, _TUNSETIFF, struct.pack("16sH", name.encode(), _IFF_TUN | _IFF_NO_PI))
    except OSError:
        os.close(fd)
        raise
    return fd


@dataclass(frozen=True)
class DelayedLink:
    """Two namespaces joined by a point-to-point link this process carries (see
    :func:`delayed_link`): listen in :attr:`far` on :attr:`far_address`, connect from
    :attr:`near`. :attr:`near_interface` is the near end, where loss can be added."""

    near: Namespace
    far: Namespace
    near_interface: str
    far_address: str
    one_way_delay_s: float


def _carry(fds: tuple[int, int], delay_s: float, stop: int) -> None:
    """Copy each packet read from one TUN device to the other ``delay_s`` later, until
    ``stop`` is readable. One thread, a heap of packets due."""
    due: list[tuple[float, int, int, bytes]] = []
    order = itertools.count()
    other = {fds[0]: fds[1], fds[1]: fds[0]}
    while True:
        now = time.monotonic()
        while due and due[0][0] <= now:
            _, _, fd, packet = heapq.heappop(due)
            with contextlib.suppress(BlockingIOError, OSError):
                os.write(fd, packet)
        timeout = max(0.0, due[0][0] - now) if due else None
        readable, _, _ = select.select([*fds, stop], [], [], timeout)
        if stop in readable:
            return
        for fd in readable:
            with contextlib.suppress(BlockingIOError):
                while True:
                    packet = os.read(fd, 65535)
                    heapq.heappush(
                        due, (time.monotonic() + delay_s, next(order), other[fd], packet)
                    )


@contextlib.contextmanager
def delayed_link(one_way_delay_s: float) -> Iterator[DelayedLink]:
    """Two fresh namespaces joined by a TUN device in each, with a thread of this process
    carrying every packet between them ``one_way_delay_s`` late: a round trip the kernels'
    TCP stacks see (their RTT estimate, retransmission timeout and loss recovery run on
    it), where ``tc netem`` is not available. Everything is removed on exit.

    Raises :class:`OSError` or :class:`subprocess.CalledProcessError` when it cannot be made.
    """
    n = next(_counter)
    subnet = 16 + (os.getpid() + n) % 200
    near_ip, far_ip = f"10.214.{subnet}.1", f"10.214.{subnet}.2"
    tun = f"slt{os.getpid() % 100000}x{n}"
    with namespace("selector-near") as near, namespace("selector-far") as far:
        fds = (near.call(lambda: _open_tun(tun)), far.call(lambda: _open_tun(tun)))
        stop_r, stop_w = os.pipe()
        carrier = threading.Thread(
            target=_carry, args=(fds, one_way_delay_s, stop_r), name="delayed-link", daemon=True
        )
        try:
            for ns, mine, theirs in ((near, near_ip, far_ip), (far, far_ip, near_ip)):
                ns.run("ip", "addr", "add", mine, "peer", theirs, "dev", tun)
                ns.run("ip", "link", "set", tun, "up")
            carrier.start()
            yield DelayedLink(
                near=near,
                far=far,
                near_interface=tun,
                far_address=far_ip,
                one_way_delay_s=one_way_delay_s,
            )
        finally:
            os.write(stop_w, b"x")
            if carrier.is_alive():
                carrier.join()
            for fd in (*fds, stop_r, stop_w):
                os.close(fd)
