"""Sending one webhook: the Standard Webhooks signature (`webhook-id`, `webhook-timestamp`,
`webhook-signature`: HMAC-SHA256 with the endpoint's secret, by the `standardwebhooks`
package) and an HTTP POST to an address checked after DNS resolution (S70, S71).

The host name is resolved once per attempt; every address it resolves to must be public
(not loopback, private, link-local, shared, multicast, reserved or a cloud metadata
address) unless `allowed_networks` names it; the connection is then made to that very
address, with the host name in `Host` and in TLS's SNI and certificate check, so a DNS
answer that changes between the check and the connection (DNS rebinding) cannot send the
request elsewhere. Redirects are not followed. When to send is the services' business
(vip.services.webhooks)."""

from __future__ import annotations

import base64
import http.client
import ipaddress
import secrets
import socket
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from standardwebhooks.webhooks import Webhook

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

SECRET_PREFIX = "whsec_"
USER_AGENT = "VIP-Reseller-Console-Webhooks/1"
RESPONSE_READ_LIMIT = 64 * 1024


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signed_headers(*, secret: str, event_id: str, timestamp: datetime, body: bytes) -> dict:
    """The headers of one delivery: the same `webhook-id` on every attempt, the attempt's
    own timestamp and signature."""
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": Webhook(secret).sign(event_id, timestamp, body),
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }


# -- Where a request may go (S70, S71) ---------------------------------------------------------


class TargetRefused(Exception):
    """The URL may not be called; `reason` is a code the services word for people:
    scheme, http, credentials, host, port, unresolvable, address."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def parse_networks(text: str | Iterable[str] | None) -> tuple[Network, ...]:
    """`127.0.0.1, 10.0.0.0/8` (or a list of such) as networks; ValueError on a bad one."""
    if not text:
        return ()
    items = text.split(",") if isinstance(text, str) else list(text)
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in items if item.strip())


def _plain(address: Address) -> Address:
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped if mapped is not None else address


def address_refused(address: Address, allowed: Iterable[Network] = ()) -> bool:
    """True for an address a webhook may not reach: anything but a global unicast address
    (loopback, private, link-local, the metadata address 169.254.169.254, shared
    100.64.0.0/10, multicast, reserved, unspecified), unless `allowed` names it."""
    address = _plain(address)
    if any(address in network for network in allowed if network.version == address.version):
        return False
    return not address.is_global or address.is_multicast


def resolve(host: str, port: int) -> list[Address]:
    """Every address `host` resolves to (the system resolver); [] when it does not."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    found: list[Address] = []
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0].split("%")[0])
        if address not in found:
            found.append(address)
    return found


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    address: Address  # the one the connection goes to


def check_target(
    url: str, *, allow_http: bool = False, allowed_networks: Iterable[Network] = ()
) -> Target:
    """The URL checked and resolved now: https (http only with `allow_http`), no user or
    password, a host whose every address may be reached. Raises TargetRefused."""
    parts = urlsplit(url.strip())
    if parts.scheme not in {"https", "http"}:
        raise TargetRefused("scheme", parts.scheme)
    if parts.scheme == "http" and not allow_http:
        raise TargetRefused("http")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("credentials")
    host = parts.hostname
    if not host:
        raise TargetRefused("host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise TargetRefused("port") from None
    addresses = resolve(host, port)
    if not addresses:
        raise TargetRefused("unresolvable", host)
    allowed = tuple(allowed_networks)
    refused = [a for a in addresses if address_refused(a, allowed)]
    if refused:
        raise TargetRefused("address", ", ".join(str(a) for a in refused))
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, host, port, path, addresses[0])


# -- Sending -------------------------------------------------------------------------------------


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the checked address; `Host` still names the host."""

    def __init__(self, target: Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = str(target.address)

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """Connects to the checked address; SNI and the certificate check use the host name."""

    def __init__(self, target: Target, timeout: float):
        super().__init__(
            target.host, target.port, timeout=timeout, context=ssl.create_default_context()
        )
        self._address = str(target.address)

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


@dataclass(frozen=True)
class Outcome:
    """How one POST went: the status code (None without an answer) and what went wrong."""

    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def post(
    url: str,
    *,
    body: bytes,
    headers: dict,
    allow_http: bool = False,
    allowed_networks: Iterable[Network] = (),
    timeout: float = 10,
) -> Outcome:
    """POSTs `body` to `url` after checking where it goes; never raises for the network,
    the answer or a refused address: the outcome says what happened."""
    started = time.monotonic()

    def outcome(status: int | None, error: str | None) -> Outcome:
        return Outcome(status, error, int((time.monotonic() - started) * 1000))

    try:
        target = check_target(url, allow_http=allow_http, allowed_networks=allowed_networks)
    except TargetRefused as refused:
        return outcome(None, f"refused: {refused}")
    kind = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = kind(target, timeout)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(RESPONSE_READ_LIMIT)
        status = response.status
    except (OSError, http.client.HTTPException) as error:
        return outcome(None, f"{type(error).__name__}: {error}"[:500])
    finally:
        connection.close()
    if 200 <= status < 300:
        return outcome(status, None)
    if 300 <= status < 400:
        return outcome(status, "a redirect is not followed")
    return outcome(status, f"HTTP {status}")
