"""Generated proxy configs: real validators where Debian has them, structure elsewhere."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from selector.builtin import plan_lifetime
from selector.errors import UsageError
from selector.planner.configs import hop_timeout, render_config
from selector.planner.solver import HOP_MARGIN
from selector.profile import Profile

from .helpers import make_profile

VALIDATOR_TIMEOUT_S = 60


@pytest.fixture
def profile() -> Profile:
    # An nginx lowered to 20 s: the config must raise it; the ALB before it stays as is.
    return make_profile({"kind": "aws_alb"}, {"kind": "nginx", "idle_timeout_s": 20.0})


def render(target: str, profile: Profile, **kwargs: object) -> str:
    ws, sse = plan_lifetime(profile, "websocket"), plan_lifetime(profile, "sse")
    return render_config(target, profile, ws, sse, **kwargs).text  # type: ignore[arg-type]


def test_hop_timeout_follows_the_plan(profile: Profile) -> None:
    ws = plan_lifetime(profile, "websocket")
    nginx = hop_timeout(ws, "nginx")
    assert nginx == ws.hop("nginx").set_idle_timeout_s  # type: ignore[union-attr]
    assert nginx >= HOP_MARGIN * ws.heartbeat_interval_s
    # A kind that is not on the path gets its default, or more if the heartbeat needs it.
    assert hop_timeout(ws, "envoy") == 300


def test_nginx_config_carries_the_planned_timeouts(profile: Profile) -> None:
    text = render("nginx", profile)
    ws_t = hop_timeout(plan_lifetime(profile, "websocket"), "nginx")
    sse_t = hop_timeout(plan_lifetime(profile, "sse"), "nginx")
    ws_block = text[text.index("location /ws") : text.index("location /sse")]
    short = "location ~ ^/(mutations|publish|healthz)$"
    sse_block = text[text.index("location /sse") : text.index(short)]
    assert f"proxy_read_timeout {ws_t}s;" in ws_block
    assert "proxy_set_header Upgrade $http_upgrade;" in ws_block
    assert f"proxy_read_timeout {sse_t}s;" in sse_block
    assert "proxy_buffering off;" in sse_block
    assert "map $http_upgrade $connection_upgrade" in text
    assert short in text
    # A real name, so the file does not clash with a default site's 'server_name _'.
    assert "server_name _;" not in text


def _nginx_validates(tmp_path: Path, snippet: str) -> subprocess.CompletedProcess[str]:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    (tmp_path / "logs").mkdir()
    (tmp_path / "selector.conf").write_text(snippet, encoding="utf-8")
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"pid {tmp_path}/nginx.pid;\n"
        f"error_log {tmp_path}/error.log;\n"
        "events {}\n"
        "http {\n"
        f"    access_log {tmp_path}/access.log;\n"
        f"    include {tmp_path}/selector.conf;\n"
        "}\n",
        encoding="utf-8",
    )
    return subprocess.run(
        [nginx, "-t", "-c", str(main), "-p", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=VALIDATOR_TIMEOUT_S,
        check=False,
    )


needs_nginx = pytest.mark.skipif(
    shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists(),
    reason="nginx not installed (scripts/system-deps installs it)",
)
needs_haproxy = pytest.mark.skipif(
    shutil.which("haproxy") is None and not Path("/usr/sbin/haproxy").exists(),
    reason="haproxy not installed (scripts/system-deps installs it)",
)


@needs_nginx
@pytest.mark.parametrize("protocol", [None, "websocket", "sse"])
def test_nginx_accepts_the_generated_config(
    tmp_path: Path, profile: Profile, protocol: str | None
) -> None:
    ws = plan_lifetime(profile, "websocket") if protocol in (None, "websocket") else None
    sse = plan_lifetime(profile, "sse") if protocol in (None, "sse") else None
    text = render_config("nginx", profile, ws, sse, listen=18080, upstream="[::1]:8081").text
    result = _nginx_validates(tmp_path, text)
    assert result.returncode == 0, result.stderr


@needs_nginx
def test_nginx_validation_catches_a_broken_config(tmp_path: Path, profile: Profile) -> None:
    """The validator really runs: a config missing a brace fails."""
    broken = render("nginx", profile, listen=18080).rstrip().removesuffix("}")
    assert _nginx_validates(tmp_path, broken).returncode != 0


def _haproxy_validates(tmp_path: Path, config: str) -> subprocess.CompletedProcess[str]:
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    (tmp_path / "global.cfg").write_text("global\n    maxconn 100\n", encoding="utf-8")
    (tmp_path / "selector.cfg").write_text(config, encoding="utf-8")
    return subprocess.run(
        [haproxy, "-c", "-f", str(tmp_path / "global.cfg"), "-f", str(tmp_path / "selector.cfg")],
        capture_output=True,
        text=True,
        timeout=VALIDATOR_TIMEOUT_S,
        check=False,
    )


@needs_haproxy
@pytest.mark.parametrize("protocol", [None, "websocket", "sse"])
def test_haproxy_accepts_the_generated_config(
    tmp_path: Path, profile: Profile, protocol: str | None
) -> None:
    ws = plan_lifetime(profile, "websocket") if protocol in (None, "websocket") else None
    sse = plan_lifetime(profile, "sse") if protocol in (None, "sse") else None
    text = render_config("haproxy", profile, ws, sse, listen=18081).text
    result = _haproxy_validates(tmp_path, text)
    assert result.returncode == 0, result.stdout + result.stderr
    if ws is not None:
        assert f"timeout tunnel {hop_timeout(ws, 'haproxy')}s" in text
    if sse is not None:
        assert f"timeout server {hop_timeout(sse, 'haproxy')}s" in text


@needs_haproxy
def test_haproxy_validation_catches_a_broken_config(tmp_path: Path, profile: Profile) -> None:
    broken = render("haproxy", profile).replace("timeout tunnel", "timeout tunel")
    assert _haproxy_validates(tmp_path, broken).returncode != 0


def test_envoy_config_parses_and_has_the_required_keys(profile: Profile) -> None:
    document = yaml.safe_load(render("envoy", profile))
    listener = document["static_resources"]["listeners"][0]
    manager = listener["filter_chains"][0]["filters"][0]["typed_config"]
    assert manager["upgrade_configs"] == [{"upgrade_type": "websocket"}]
    routes = {
        r["match"]["prefix"]: r["route"]
        for r in manager["route_config"]["virtual_hosts"][0]["routes"]
    }
    assert set(routes) == {"/ws", "/sse", "/"}
    for prefix, protocol in (("/ws", "websocket"), ("/sse", "sse")):
        plan = plan_lifetime(profile, protocol)
        assert routes[prefix]["timeout"] == "0s"  # no response timeout on a long-lived stream
        idle = int(routes[prefix]["idle_timeout"].removesuffix("s"))
        assert idle >= HOP_MARGIN * plan.heartbeat_interval_s
    assert int(manager["stream_idle_timeout"].removesuffix("s")) >= max(
        int(r["idle_timeout"].removesuffix("s")) for r in routes.values() if "idle_timeout" in r
    )
    cluster = document["static_resources"]["clusters"][0]
    endpoint = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
    assert endpoint["address"]["socket_address"] == {"address": "127.0.0.1", "port_value": 8765}


def test_ingress_nginx_objects_parse_with_annotations(profile: Profile) -> None:
    documents = [d for d in yaml.safe_load_all(render("ingress_nginx", profile)) if d]
    by_path = {d["spec"]["rules"][0]["http"]["paths"][0]["path"]: d for d in documents}
    assert set(by_path) == {"/ws", "/sse", "/mutations"}
    for doc in documents:
        assert doc["kind"] == "Ingress" and doc["apiVersion"] == "networking.k8s.io/v1"
    sse = by_path["/sse"]["metadata"]["annotations"]
    assert sse["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    ws = by_path["/ws"]["metadata"]["annotations"]
    ws_plan = plan_lifetime(profile, "websocket")
    timeout = ws["nginx.ingress.kubernetes.io/proxy-read-timeout"]
    assert isinstance(timeout, str)  # Kubernetes annotations must be strings
    assert int(timeout) >= HOP_MARGIN * ws_plan.heartbeat_interval_s


def test_aws_alb_json_sets_one_idle_timeout_for_both_protocols(profile: Profile) -> None:
    ws, sse = plan_lifetime(profile, "websocket"), plan_lifetime(profile, "sse")
    config = render_config("aws_alb", profile, ws, sse)
    document = json.loads(config.text)
    assert set(document) == {"LoadBalancerArn", "Attributes"}
    (attribute,) = document["Attributes"]
    assert attribute["Key"] == "idle_timeout.timeout_seconds"
    value = int(attribute["Value"])
    assert value >= HOP_MARGIN * max(ws.heartbeat_interval_s, sse.heartbeat_interval_s)
    assert config.explanation, "JSON cannot hold comments: the explanation comes separately"


def test_bad_arguments_are_usage_errors(profile: Profile) -> None:
    ws = plan_lifetime(profile, "websocket")
    # A library caller is told which argument is wrong by its name, not by a CLI option.
    for arguments, path in (
        ({"upstream": "no-port"}, "upstream"),
        ({"upstream": "host:99999"}, "upstream"),
        ({"listen": 0}, "listen"),
    ):
        with pytest.raises(UsageError) as caught:
            render_config("nginx", profile, ws, None, **arguments)
        [problem] = caught.value.problems
        assert problem.path == path and "--" not in problem.message, arguments
    with pytest.raises(UsageError):
        render_config("nginx", profile, None, None)
    with pytest.raises(UsageError):
        render_config("caddy", profile, ws, None)


# --- stock distribution configuration ---------------------------------------------------------

PROFILES = sorted((Path(__file__).resolve().parents[2] / "profiles").glob("*.yaml"))
STOCK_NGINX = Path("/etc/nginx")


def _example_config(target: str, path: Path) -> str:
    from selector.loading import load_profile

    example = load_profile(path)
    ws, sse = plan_lifetime(example, "websocket"), plan_lifetime(example, "sse")
    return render_config(target, example, ws, sse).text


def _is_root() -> bool:
    import os

    return os.geteuid() == 0


as_root = pytest.mark.skipif(not _is_root(), reason="nginx -t / haproxy -c run as root in CI")


@needs_nginx
@as_root
@pytest.mark.skipif(
    not (STOCK_NGINX / "sites-enabled").is_dir(), reason="no stock Debian /etc/nginx here"
)
@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.stem)
def test_nginx_file_works_dropped_into_stock_debian_conf_d(tmp_path: Path, path: Path) -> None:
    """The file as the header says to install it: conf.d/ of an unchanged Debian /etc/nginx,
    default site enabled; only paths to state (pid, logs) are moved into a temp folder."""
    etc = tmp_path / "etc"
    shutil.copytree(STOCK_NGINX, etc, symlinks=False)
    assert (etc / "sites-enabled" / "default").exists()
    main = etc / "nginx.conf"
    text = main.read_text(encoding="utf-8").replace(str(STOCK_NGINX), str(etc))
    text = text.replace("/var/log/nginx", str(tmp_path))
    main.write_text(text.replace("/run/nginx.pid", f"{tmp_path}/nginx.pid"), encoding="utf-8")
    (etc / "conf.d" / f"{path.stem}.conf").write_text(
        _example_config("nginx", path), encoding="utf-8"
    )
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    result = subprocess.run(
        [nginx, "-t", "-c", str(main), "-e", str(tmp_path / "error.log")],
        capture_output=True,
        text=True,
        timeout=VALIDATOR_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "[warn]" not in result.stderr, result.stderr


@needs_haproxy
@as_root
@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.stem)
def test_haproxy_accepts_every_example_without_warnings(tmp_path: Path, path: Path) -> None:
    result = _haproxy_validates(tmp_path, _example_config("haproxy", path))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "[WARNING]" not in output and "[warn]" not in output.lower(), output
