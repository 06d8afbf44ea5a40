"""The guard in front of the app, around a stand-in app: size limit, token, rate limit, health, cancel, errors."""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient

from demo.guard import API_PREFIX, TOKEN_COOKIE, Guard, GuardOptions

GENERATE_FN = 7


async def stand_in(scope, receive, send) -> None:
    """Answers with the size of the body it read; /boom fails as an unexpected bug would."""
    if scope["path"] == "/boom":
        raise RuntimeError("/srv/secret/path/model.py exploded")
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    body = json.dumps({"read": size}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


def client(**options) -> tuple[TestClient, GuardOptions]:
    settings = GuardOptions(**{"max_body": 1000, "generate_fns": lambda: {GENERATE_FN}, **options})
    return TestClient(Guard(stand_in, settings), raise_server_exceptions=False), settings


def test_bodies_over_the_limit_are_refused_before_they_are_read() -> None:
    http, _ = client()
    assert http.post("/anything", content=b"x" * 1000).json() == {"read": 1000}
    declared = http.post("/anything", content=b"x" * 1001)
    assert declared.status_code == 413 and "at most 0.0 MiB" in declared.json()["detail"]

    def chunks():  # no Content-Length: the limit is counted while reading
        for _ in range(3):
            yield b"x" * 400

    assert http.post("/anything", content=chunks()).status_code == 413


def test_an_unexpected_error_is_a_plain_500_without_traceback_or_path() -> None:
    http, _ = client()
    response = http.get("/boom")
    assert response.status_code == 500 and response.json() == {"error": "Internal server error."}
    assert "Traceback" not in response.text and "/srv" not in response.text


def test_a_token_is_needed_in_a_header_a_cookie_or_once_in_the_address() -> None:
    http, _ = client(token="s3cret")
    refused = http.get("/")
    assert refused.status_code == 401 and "access token" in refused.json()["detail"]
    assert http.get("/", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert http.get("/", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    first = http.get("/?token=s3cret")
    assert first.status_code == 200 and f"{TOKEN_COOKIE}=s3cret" in first.headers["set-cookie"]
    assert "HttpOnly" in first.headers["set-cookie"]
    assert http.get("/again").status_code == 200  # the cookie now carries it
    assert http.get("/healthz").json() == {"status": "ok"}  # open to health checks


def test_generation_requests_are_limited_per_client_per_minute() -> None:
    now = [0.0]
    http, options = client(rate_limit=2, clock=lambda: now[0])
    join = f"{API_PREFIX}/queue/join"
    generate = {"fn_index": GENERATE_FN, "data": [], "session_hash": "abc"}
    assert [http.post(join, json=generate).status_code for _ in range(2)] == [200, 200]
    assert http.post(join, json={**generate, "fn_index": 3}).status_code == 200  # other events are not counted
    refused = http.post(join, json=generate)
    assert refused.status_code == 429 and "at most 2 videos a minute" in refused.json()["detail"]
    assert "Try again in 60 s" in refused.json()["detail"]
    assert http.post(f"{API_PREFIX}/call/generate", json={"data": []}).status_code == 429
    now[0] = 60.0
    assert http.post(join, json=generate).status_code == 200
    assert http.post(join, content=json.dumps(generate)).json() == {"read": len(json.dumps(generate))}  # intact


def test_cancel_drops_the_waiting_event_and_still_reaches_the_app() -> None:
    dropped = []

    async def drop(event_id: str) -> None:
        dropped.append(event_id)

    http, _ = client(drop_queued=drop)
    body = {"event_id": "e42", "session_hash": "abc", "fn_index": GENERATE_FN}
    assert http.post(f"{API_PREFIX}/cancel", content=json.dumps(body)).json() == {"read": len(json.dumps(body))}
    assert dropped == ["e42"]


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"fn_index": "7"}'])
def test_odd_bodies_pass_to_the_app(body: bytes) -> None:
    http, _ = client(rate_limit=1)
    assert http.post(f"{API_PREFIX}/queue/join", content=body).status_code == 200
