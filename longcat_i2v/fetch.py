"""Fetching an http(s) URL for the input image, bounded: one total deadline (connecting, TLS, headers, body and
every redirect together), a size cap, at most N redirects, http(s) at every hop, and no connection to loopback,
private, link-local, multicast or reserved addresses unless the caller allows private URLs.

Written on ``http.client`` rather than ``urllib.request`` on purpose: urllib's timeout applies to each socket
operation (a server dripping a byte a second never times out), it follows redirects to other schemes and hosts
unchecked, and it resolves the host itself after any check one could make (DNS rebinding). Here the host is
resolved once, every address it resolves to is checked, and the socket connects to a checked address; a watchdog
shuts the socket down when the deadline passes, whatever the read is waiting for. Proxy variables are ignored.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import SplitResult, urljoin, urlsplit

from .errors import ImageInputError

SCHEMES = {"http": 80, "https": 443}
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
PRIVATE_HINT = "pass allow_private_urls=True (--allow-private-urls) to fetch from this machine or a private network"
_REASONS = (
    ("is_loopback", "a loopback"),
    ("is_link_local", "a link-local"),
    ("is_multicast", "a multicast"),
    ("is_unspecified", "an unspecified"),
    ("is_reserved", "a reserved"),
    ("is_private", "a private"),
)


def refused_address(address: str) -> str | None:
    """Why a connection to this IP address is refused ("a loopback address", ...), or None for a public one.
    An IPv4 address written as IPv6 (``::ffff:127.0.0.1``) is judged as the IPv4 address it is."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # a link-local IPv6 address may carry a %scope
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for attribute, reason in _REASONS:
        if getattr(ip, attribute):
            return f"{reason} address"
    return None if ip.is_global else "an address that is not globally routable"


def _late(url: str, timeout: float) -> ImageInputError:
    return ImageInputError(f"image URL {url} was not fetched within the deadline of {timeout:g} s")


def _remaining(deadline: float, url: str, timeout: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise _late(url, timeout)
    return left


def _within(seconds: float, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` in a daemon thread, given up after ``seconds`` (getaddrinfo has no timeout of its own)."""
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["value"] = fn(*args)
        except BaseException as exc:  # handed to the caller's thread
            result["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise TimeoutError("name resolution did not finish in time")
    if "error" in result:
        raise result["error"]
    return result["value"]


def _check_url(url: str) -> SplitResult:
    parts = urlsplit(url)
    if parts.scheme.lower() not in SCHEMES:
        raise ImageInputError(f"unsupported URL scheme in {url!r}; only http:// and https:// are fetched")
    if not parts.hostname:
        raise ImageInputError(f"image URL {url!r} has no host")
    parts.port  # noqa: B018 - raises ValueError for a port out of range, reported by the caller
    return parts


def _addresses(parts: SplitResult, seconds: float, allow_private: bool, url: str) -> list[tuple]:
    """Every (family, sockaddr) the host resolves to, each one checked unless private URLs are allowed."""
    port = parts.port or SCHEMES[parts.scheme.lower()]
    infos = _within(seconds, socket.getaddrinfo, parts.hostname, port, 0, socket.SOCK_STREAM)
    found = [(family, sockaddr) for family, _, _, _, sockaddr in infos]
    if not allow_private:
        for _, sockaddr in found:
            if reason := refused_address(sockaddr[0]):
                raise ImageInputError(
                    f"image URL {url} resolves to {sockaddr[0]}, {reason}; only public addresses are fetched "
                    f"({PRIVATE_HINT})"
                )
    return found


def _connect(addresses: list[tuple], deadline: float, url: str, timeout: float) -> socket.socket:
    """A socket connected to the first checked address that answers before the deadline."""
    error: OSError = OSError("no address to connect to")
    for family, sockaddr in addresses:
        left = _remaining(deadline, url, timeout)
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(left)
        try:
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            sock.close()
            error = exc
    raise error


class _Watchdog:
    """Shuts a connection down at the deadline, so that any read or TLS step waiting on it returns at once.

    It holds a duplicate of the socket's descriptor: wrapping the socket in TLS detaches the original object,
    and a shutdown through any descriptor ends the connection for all of them."""

    def __init__(self, sock: socket.socket, seconds: float) -> None:
        self.expired = False
        self._shadow = sock.dup()
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def _expire(self) -> None:
        with self._lock:
            if self._shadow.fileno() < 0:
                return
            self.expired = True
            try:
                self._shadow.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # the peer already closed it

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._timer.cancel()
        with self._lock:
            self._shadow.close()


def _get(parts: SplitResult, sock: socket.socket, max_bytes: int, url: str) -> tuple[int, str | None, bytes]:
    """(status, Location header, body) of one GET over a connected socket."""
    if parts.scheme.lower() == "https":
        sock = ssl.create_default_context().wrap_socket(sock, server_hostname=parts.hostname)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port or SCHEMES[parts.scheme.lower()])
    conn.sock = sock  # the checked, already connected socket: http.client never resolves or connects itself
    try:
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = {"User-Agent": "longcat-i2v", "Accept": "image/*", "Accept-Encoding": "identity"}
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        if resp.status != 200:
            return resp.status, resp.getheader("Location"), b""
        length = resp.getheader("Content-Length")
        if length is not None and length.isdigit() and int(length) > max_bytes:
            raise ImageInputError(f"image at {url} is larger than {max_bytes // (1024 * 1024)} MiB ({length} bytes)")
        return resp.status, None, resp.read(max_bytes + 1)
    finally:
        conn.close()


def _hop(current: str, url: str, deadline: float, timeout: float, max_bytes: int, allow_private: bool):
    """One GET of ``current`` (``url`` is the one asked for, named in deadline messages)."""
    parts = _check_url(current)
    addresses = _addresses(parts, _remaining(deadline, url, timeout), allow_private, current)
    sock = _connect(addresses, deadline, url, timeout)
    watchdog = _Watchdog(sock, _remaining(deadline, url, timeout))
    with sock, watchdog:
        try:
            result = _get(parts, sock, max_bytes, current)
        except (OSError, ValueError, http.client.HTTPException) as exc:
            if watchdog.expired:
                raise _late(url, timeout) from exc
            raise
    if watchdog.expired:  # a body without a length ends quietly when the socket is shut down
        raise _late(url, timeout)
    return result


def fetch_url(url: str, max_bytes: int, timeout: float, max_redirects: int = 5, allow_private: bool = False) -> bytes:
    """The body of an http(s) URL, or ImageInputError naming the URL and what went wrong or is not allowed.
    ``timeout`` is one deadline for everything, redirects included."""
    deadline = time.monotonic() + timeout
    current, redirects = url, 0
    while True:
        try:
            status, location, body = _hop(current, url, deadline, timeout, max_bytes, allow_private)
        except ImageInputError as exc:
            if redirects:
                raise ImageInputError(f"{exc} (reached by a redirect from {url})") from exc
            raise
        except (OSError, ValueError, http.client.HTTPException) as exc:  # resets, refusals, TLS, cut-off bodies
            if time.monotonic() >= deadline:
                raise _late(url, timeout) from exc
            raise ImageInputError(f"cannot fetch image URL {current}: {exc}") from exc
        if status == 200:
            if len(body) > max_bytes:
                raise ImageInputError(f"image at {current} is larger than {max_bytes // (1024 * 1024)} MiB")
            return body
        if status not in REDIRECT_STATUSES:
            raise ImageInputError(f"cannot fetch image URL {current}: the server answered HTTP {status}")
        if not location:
            raise ImageInputError(f"image URL {current} redirects (HTTP {status}) without a Location header")
        if redirects == max_redirects:
            raise ImageInputError(f"image URL {url} redirects more than {max_redirects} times")
        redirects += 1
        current = urljoin(current, location)
