"""Keeping webhook deliveries away from internal addresses (loopback, private, link-local, metadata).

Checked twice: when a URL is saved (its host resolves to public addresses) and when a delivery connects
(the address actually connected to is public), so a DNS answer that changes in between cannot point a
delivery at an internal service. Hosts listed in BREAKEVEN_WEBHOOK_ALLOWED_HOSTS skip both checks.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

# Cloud metadata services that sit on ordinary-looking addresses in some clouds.
_METADATA = {
    ipaddress.ip_address("169.254.169.254"),
    ipaddress.ip_address("fd00:ec2::254"),
    ipaddress.ip_address("100.100.100.200"),
}


class BlockedAddress(ValueError):
    pass


def address_problem(address: str) -> str | None:
    """Why this IP must not receive webhooks, or None when it is a public address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in _METADATA:
        return "a cloud metadata address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_private or ip.is_reserved or ip.is_unspecified or ip.is_multicast or not ip.is_global:
        return "a private or reserved address"
    return None


def is_allowed_host(host: str, allowed: list[str]) -> bool:
    return host.lower().strip("[]") in {h.lower().strip("[]") for h in allowed}


def check_url(url: str, allowed: list[str]) -> None:
    """Raises ValueError with a reason when the URL may not be used as a webhook target."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError("must be an http:// or https:// URL")
    if not parts.hostname:
        raise ValueError("must include a host")
    if parts.username or parts.password:
        raise ValueError("must not contain credentials")
    host = parts.hostname
    if is_allowed_host(host, allowed):
        return
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise ValueError("has an invalid port") from exc
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise ValueError(f"host {host!r} does not resolve") from exc
    for info in infos:
        problem = address_problem(info[4][0])
        if problem:
            raise ValueError(
                f"host {host!r} resolves to {problem}; add it to BREAKEVEN_WEBHOOK_ALLOWED_HOSTS to allow it"
            )


def _check_peer(conn: HTTPConnection, allowed: list[str]) -> None:
    if is_allowed_host(conn.host, allowed):
        return
    peer = conn.sock.getpeername()[0] if conn.sock else None
    problem = address_problem(peer) if peer else "an unknown address"
    if problem:
        conn.close()
        raise BlockedAddress(f"refused to deliver to {problem}")


def _guarded_session_class(allowed: list[str]):
    class GuardedHTTPConnection(HTTPConnection):
        def connect(self) -> None:
            super().connect()
            _check_peer(self, allowed)

    class GuardedHTTPSConnection(HTTPSConnection):
        def connect(self) -> None:
            super().connect()
            _check_peer(self, allowed)

    class GuardedHTTPPool(HTTPConnectionPool):
        ConnectionCls = GuardedHTTPConnection

    class GuardedHTTPSPool(HTTPSConnectionPool):
        ConnectionCls = GuardedHTTPSConnection

    class GuardedAdapter(HTTPAdapter):
        def init_poolmanager(self, *args, **kwargs) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {"http": GuardedHTTPPool, "https": GuardedHTTPSPool}

    return GuardedAdapter


def guarded_session(allowed: list[str]) -> requests.Session:
    """A requests session that refuses to talk to internal addresses at connect time. Callers pass
    allow_redirects=False: a redirect is reported, never followed."""
    session = requests.Session()
    session.trust_env = False  # a proxy from the environment would hide the real peer address
    adapter = _guarded_session_class(allowed)()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
