"""The unchanged Scaleway `scw-gateway` client (GatewayManager) against the real admin binary.

Starts `admin` (path from ADMIN_BIN, default target/debug/admin) on a free port with an embedded
SQLite store in a tempdir and a token, then drives it only through the client's public methods.
"""

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from cli.conf import InfraConfiguration
from cli.gateway import GatewayManager, KongAPIException
from cli.model import Consumer, Route

ROOT = Path(__file__).resolve().parents[2]
ADMIN_BIN = os.environ.get("ADMIN_BIN", str(ROOT / "target" / "debug" / "admin"))
TOKEN = "py-client-test-token-0123456789abcdef"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(port: int, token: str = TOKEN) -> InfraConfiguration:
    return InfraConfiguration(
        protocol="http",
        gw_admin_host="127.0.0.1",
        gw_admin_port=str(port),
        gw_admin_token=token,
        gw_host="127.0.0.1",
        gw_port="1",
        db_host="",
        db_port="",
        db_name="",
    )


@pytest.fixture()
def admin(tmp_path):
    """A running admin binary; yields its port."""
    port = _free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_", "ADMIN_TOKEN")) and k not in ("PORT", "ADMIN_DEV")
    }
    env.update(ADMIN_TOKEN=TOKEN, GATEWAY_DATA_DIR=str(tmp_path / "data"))
    log = open(tmp_path / "admin.log", "wb")
    proc = subprocess.Popen(
        [ADMIN_BIN, "--listen", f"127.0.0.1:{port}"], env=env, stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"admin exited with {proc.returncode}: {(tmp_path / 'admin.log').read_text()}"
                )
            try:
                r = requests.get(
                    f"http://127.0.0.1:{port}/status", headers={"X-Auth-Token": TOKEN}, timeout=2
                )
                if r.status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("admin did not become ready")
            time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture()
def manager(admin) -> GatewayManager:
    return GatewayManager(_config(admin))


def _plugins(port: int) -> list[dict]:
    r = requests.get(f"http://127.0.0.1:{port}/plugins", headers={"X-Auth-Token": TOKEN}, timeout=5)
    r.raise_for_status()
    return r.json()["data"]


def test_routes_roundtrip(manager, admin):
    hello = Route(
        relative_url="/hello",
        target="http://upstream.test:8080",
        http_methods=["GET", "POST"],
        cors=True,
        jwt=True,
    )
    plain = Route(relative_url="/plain/path", target="https://secure.test:443")
    manager.add_route(hello)
    manager.add_route(plain)

    routes = sorted(manager.get_routes(), key=lambda r: r.relative_url)
    assert routes == [hello, plain]
    assert routes[1].http_methods is None
    assert sorted(p["name"] for p in _plugins(admin)) == ["cors", "jwt"]

    # Adding again is idempotent: PUTs replace, the plugins' 409s are ignored by the client.
    manager.add_route(hello)
    assert sorted(manager.get_routes(), key=lambda r: r.relative_url) == [hello, plain]
    assert len(_plugins(admin)) == 2

    manager.delete_route(hello)
    assert manager.get_routes() == [plain]
    assert _plugins(admin) == []


def test_route_with_changed_target_is_replaced(manager):
    manager.add_route(Route(relative_url="/svc", target="http://one.test:80"))
    manager.add_route(Route(relative_url="/svc", target="http://two.test:9000", jwt=True))
    assert manager.get_routes() == [Route(relative_url="/svc", target="http://two.test:9000", jwt=True)]


def test_consumers_and_jwt_credentials(manager):
    manager.add_consumer("bob")
    manager.add_consumer("alice")
    assert manager.get_consumers() == [Consumer(username="alice"), Consumer(username="bob")]

    cred = manager.add_jwt_cred("alice")
    assert cred.algorithm == "HS256"
    assert len(cred.iss) == 32
    assert len(cred.secret) == 32
    assert manager.get_jwt_creds("alice") == [cred]
    assert manager.get_jwt_creds("bob") == []

    with pytest.raises(KongAPIException) as err:
        manager.add_consumer("alice")
    assert err.value.response.status_code == 409

    manager.delete_consumer("alice")
    assert manager.get_consumers() == [Consumer(username="bob")]
    with pytest.raises(KongAPIException) as err:
        manager.get_jwt_creds("alice")
    assert err.value.response.status_code == 404


def test_global_statsd_plugin(manager, admin):
    first = manager.setup_global_kong_statsd_plugin()
    second = manager.setup_global_kong_statsd_plugin()
    assert first != second
    statsd = [p for p in _plugins(admin) if p["name"] == "statsd"]
    assert [p["id"] for p in statsd] == [second]
    assert statsd[0]["config"]["port"] == 8125
    assert statsd[0]["config"]["prefix"] == "kong"


def test_wrong_token_is_refused(admin):
    bad = GatewayManager(_config(admin, token="not-the-token"))
    with pytest.raises(KongAPIException) as err:
        bad.get_routes()
    assert err.value.response.status_code == 401
    assert err.value.response.json() == {"message": "Unauthorized"}
