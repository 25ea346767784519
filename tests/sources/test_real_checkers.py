"""The hand-written fixtures are configurations the real tools accept (``nginx -t``,
``haproxy -c``), so what lint reads is what those servers would run."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

CONFIGS = Path(__file__).resolve().parent / "configs"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
HAPROXY = shutil.which("haproxy") or (
    "/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None
)
NGINX_FIXTURES = ["nginx-ws-45s.conf", "nginx-ws-20s.conf", "included/nginx.conf"]


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed (scripts/system-deps)")
@pytest.mark.parametrize("name", NGINX_FIXTURES)
def test_nginx_accepts_the_fixture(tmp_path: Path, name: str) -> None:
    assert NGINX is not None
    result = subprocess.run(
        [NGINX, "-t", "-q", "-p", str(tmp_path), "-e", "stderr", "-c", str(CONFIGS / name)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "warn" not in result.stderr, result.stderr


@pytest.mark.skipif(HAPROXY is None, reason="haproxy is not installed (scripts/system-deps)")
def test_haproxy_accepts_the_fixture() -> None:
    assert HAPROXY is not None
    result = subprocess.run(
        [HAPROXY, "-c", "-f", str(CONFIGS / "haproxy.cfg")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stdout + result.stderr, result.stdout + result.stderr
