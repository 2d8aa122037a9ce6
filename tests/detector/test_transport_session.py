"""The detector's and watchers' HTTP session: environment lookups off unless a proxy needs them."""

from __future__ import annotations

import pytest

from detector_client.transport import lean_session

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


@pytest.fixture()
def no_proxy_env(monkeypatch):
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_without_a_proxy_the_environment_is_not_read_per_request(no_proxy_env):
    no_proxy_env.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    session = lean_session()
    assert session.trust_env is False
    assert session.verify == "/etc/ssl/certs/ca-certificates.crt"  # the CA bundle is kept


def test_a_configured_proxy_is_still_honoured(no_proxy_env):
    no_proxy_env.setenv("HTTP_PROXY", "http://proxy.internal:3128")
    session = lean_session()
    assert session.trust_env is True
    assert session.merge_environment_settings("http://camera.example/x.m3u8", {}, None, None, None)["proxies"]
