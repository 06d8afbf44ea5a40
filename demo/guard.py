"""An ASGI middleware in front of the gradio app: what an operator needs and gradio does not do itself.

- one size limit for every request body (uploads, and JSON bodies carrying ``data:`` URLs), checked before the
  body is read into memory;
- an optional access token (``Authorization: Bearer …``, or ``?token=…`` once in the browser, kept as a cookie);
- a limit on generation requests per client address per minute;
- ``GET /healthz``, open to health checks (no token needed, nothing private in it);
- Cancel of a request still waiting in gradio's queue removes it there (gradio's /cancel stops only running
  events, so a cancelled waiting request would still run later, for nobody);
- no traceback ever leaves the server: an unexpected exception becomes a plain 500 (gradio builds its app in
  debug mode, whose error page prints the traceback and install paths).
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs

from gradio.route_utils import API_PREFIX

logger = logging.getLogger(__name__)

TOKEN_COOKIE = "longcat_demo_token"
HEALTH_PATH = "/healthz"
RATE_WINDOW_S = 60.0
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]


class BodyTooLarge(Exception):
    """A request body grew past the limit while it was being read."""


@dataclass
class GuardOptions:
    """What the guard enforces. ``generate_fns`` names the generation events (their gradio fn indices);
    ``health`` reports the server's state; ``drop_queued(event_id)`` removes a waiting event from the queue."""

    max_body: int
    token: str | None = None
    rate_limit: int = 0  # generation requests per client per minute; 0: no limit
    generate_fns: Callable[[], set[int]] = lambda: set()
    health: Callable[[], dict] = lambda: {"status": "ok"}
    drop_queued: Callable[[str], Awaitable[None]] | None = None
    clock: Callable[[], float] = time.monotonic
    _recent: dict[str, deque[float]] = field(default_factory=lambda: defaultdict(deque))

    def admit(self, client: str) -> float | None:
        """Record a generation request of ``client``; the seconds to wait instead if it is over the limit."""
        if self.rate_limit <= 0:
            return None
        now, recent = self.clock(), self._recent[client]
        while recent and now - recent[0] >= RATE_WINDOW_S:
            recent.popleft()
        if len(recent) >= self.rate_limit:
            return RATE_WINDOW_S - (now - recent[0])
        recent.append(now)
        return None


async def respond(send: Send, status: int, body: dict, headers: list[tuple[bytes, bytes]] = ()) -> None:
    payload = json.dumps(body).encode()
    start = {"type": "http.response.start", "status": status,
             "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                         *headers]}  # fmt: skip
    await send(start)
    await send({"type": "http.response.body", "body": payload})


class Guard:
    """The middleware (``Middleware(Guard, options=GuardOptions(...))``)."""

    def __init__(self, app: Callable, options: GuardOptions) -> None:
        self.app, self.options = app, options

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked_send(message: dict) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._handle(scope, receive, tracked_send)
        except BodyTooLarge:
            if started:
                raise
            await respond(send, 413, {"detail": self._too_large()})
        except Exception:
            logger.exception("request %s %s failed", scope.get("method"), scope.get("path"))
            if started:
                raise
            await respond(send, 500, {"error": "Internal server error."})

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, method = scope.get("path", ""), scope.get("method", "GET")
        if path == HEALTH_PATH and method in ("GET", "HEAD"):
            await respond(send, 200, self.options.health())
            return
        access = "open" if _gradio_self_check(scope, path) else self._access(scope)
        if access == "refused":
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            await respond(send, 401, {"detail": "This demo needs an access token: open it with ?token=… or send "
                                                "the header Authorization: Bearer …"})  # fmt: skip
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.options.max_body):
            await respond(send, 413, {"detail": self._too_large()})
            return
        receive = self._limited(receive)
        if (
            method == "POST"
            and path in (f"{API_PREFIX}/queue/join", f"{API_PREFIX}/cancel")
            or (method == "POST" and path.rstrip("/") == f"{API_PREFIX}/call/generate")
        ):
            body = await _read_all(receive)
            receive = _replay(body, receive)
            if await self._refused(scope, path, body, send):
                return
        await self.app(scope, receive, _with_cookie(send, self.options.token) if access == "token in URL" else send)

    async def _refused(self, scope: Scope, path: str, body: bytes, send: Send) -> bool:
        """Apply the rate limit to generation requests and drop cancelled waiting ones; True if answered."""
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            return False  # gradio answers a malformed body itself
        data = data if isinstance(data, dict) else {}
        if path.endswith("/cancel"):
            event = data.get("event_id")
            if isinstance(event, str) and self.options.drop_queued is not None:
                await self.options.drop_queued(event)
            return False
        if path.endswith("/queue/join") and data.get("fn_index") not in self.options.generate_fns():
            return False
        wait = self.options.admit((scope.get("client") or ("unknown",))[0])
        if wait is None:
            return False
        await respond(send, 429, {"detail": f"Too many requests: at most {self.options.rate_limit} videos a "
                                            f"minute from one address. Try again in {math.ceil(wait)} s."})  # fmt: skip
        return True

    def _access(self, scope: Scope) -> str:
        """ "open" (no token needed, or it came in a header or cookie), "token in URL" (then it is kept as a
        cookie for the page's own requests) or "refused"."""
        token = self.options.token
        if token is None:
            return "open"
        authorization = _header(scope, b"authorization") or ""
        cookie = SimpleCookie(_header(scope, b"cookie") or "").get(TOKEN_COOKIE)
        query = parse_qs((scope.get("query_string") or b"").decode("latin-1")).get("token", [""])[0]
        if _same(authorization.removeprefix("Bearer "), token) or (cookie is not None and _same(cookie.value, token)):
            return "open"
        return "token in URL" if _same(query, token) else "refused"

    def _limited(self, receive: Receive) -> Receive:
        seen = 0

        async def limited() -> dict:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.options.max_body:
                raise BodyTooLarge
            return message

        return limited

    def _too_large(self) -> str:
        return f"The request is too large: at most {self.options.max_body / 2**20:.1f} MiB are accepted."


def _gradio_self_check(scope: Scope, path: str) -> bool:
    """gradio's launch calls this route of its own server, without the token, to start the queue."""
    client = (scope.get("client") or ("",))[0]
    return path == f"{API_PREFIX}/startup-events" and client in ("127.0.0.1", "::1")


def _same(given: str, token: str) -> bool:
    return bool(given) and hmac.compare_digest(given.encode(), token.encode())


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


async def _read_all(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if message["type"] != "http.request" or not message.get("more_body"):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the body read already, then passes on (a disconnect, later)."""
    sent = False

    async def replay() -> dict:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _with_cookie(send: Send, token: str) -> Send:
    cookie = (b"set-cookie", f"{TOKEN_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/".encode())

    async def with_cookie(message: dict) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), cookie]}
        await send(message)

    return with_cookie
