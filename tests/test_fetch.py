"""Image URLs: one total deadline, bounded redirects, http(s) at every hop, and no loopback/private/link-local
address unless allowed. Every server here listens on 127.0.0.1 only and stops by itself."""

from __future__ import annotations

import http.server
import io
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from longcat_i2v import fetch
from longcat_i2v.errors import ImageInputError
from longcat_i2v.images import load_image

DRIP_BYTES = 600  # a drip server gives up after this many bytes (one per DRIP_PERIOD), so a test stays bounded
DRIP_PERIOD = 0.05


def png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (20, 10), "blue").save(buf, format="PNG")
    return buf.getvalue()


class Handler(http.server.BaseHTTPRequestHandler):
    """Routes: /ok.png, /to?<url> (302 there), /chain/<n> (n redirects, then the PNG), /loop, /drip-body,
    /drip-head, /huge (announces 1 GB). Each request and each drip's end is recorded on the server."""

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        self.server.paths.append(self.path)
        if self.path == "/ok.png":
            self.reply(200, png_bytes())
        elif self.path.startswith("/to?"):
            self.redirect(self.path[4:])
        elif self.path == "/chain/0":
            self.reply(200, png_bytes())
        elif self.path.startswith("/chain/"):
            self.redirect(f"/chain/{int(self.path.rsplit('/', 1)[1]) - 1}")
        elif self.path == "/loop":
            self.redirect("/loop")
        elif self.path == "/huge":
            self.send_response(200)
            self.send_header("Content-Length", str(10**9))
            self.end_headers()
        elif self.path in ("/drip-body", "/drip-head"):
            head = f"HTTP/1.1 200 OK\r\nContent-Length: {DRIP_BYTES}\r\n\r\n".encode()
            if self.path == "/drip-body":
                self.wfile.write(head)
                self.wfile.flush()
            self.drip(head if self.path == "/drip-head" else b"x" * DRIP_BYTES)
        else:
            self.reply(404, b"not found")

    def reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def drip(self, data: bytes) -> None:
        sent = 0
        try:
            for i in range(min(len(data), DRIP_BYTES)):
                self.wfile.write(data[i : i + 1])
                self.wfile.flush()
                sent += 1
                time.sleep(DRIP_PERIOD)
        except OSError:
            pass  # the client went away: what the test waits for
        finally:
            self.server.dripped.append(sent)
            self.server.drip_done.set()
            self.close_connection = True


def start_server(tls_cert: Path | None = None) -> http.server.ThreadingHTTPServer:
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.paths, srv.dripped, srv.drip_done = [], [], threading.Event()
    scheme = "http"
    if tls_cert is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls_cert, tls_cert.with_suffix(".key"))
        srv.socket = context.wrap_socket(srv.socket, server_side=True)
        scheme = "https"
    srv.base = f"{scheme}://127.0.0.1:{srv.server_address[1]}"
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


@pytest.fixture()
def server() -> Iterator[http.server.ThreadingHTTPServer]:
    srv = start_server()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture()
def tls_server(tmp_path) -> Iterator[http.server.ThreadingHTTPServer]:
    """An https server with a fresh self-signed certificate for 127.0.0.1 (``srv.cert``)."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    cert = tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(cert.with_suffix(".key")), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)  # fmt: skip
    srv = start_server(cert)
    srv.cert = cert
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.mark.parametrize(
    "address,reason",
    [
        ("127.0.0.1", "a loopback address"),
        ("127.8.9.10", "a loopback address"),
        ("::1", "a loopback address"),
        ("::ffff:127.0.0.1", "a loopback address"),
        ("10.1.2.3", "a private address"),
        ("172.16.0.1", "a private address"),
        ("192.168.1.1", "a private address"),
        ("fc00::1", "a private address"),
        ("169.254.169.254", "a link-local address"),
        ("fe80::1%2", "a link-local address"),
        ("224.0.0.1", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("0.0.0.0", "an unspecified address"),
        ("240.0.0.1", "a reserved address"),
        ("100.64.0.1", "an address that is not globally routable"),
        ("8.8.8.8", None),
        ("2001:4860:4860::8888", None),
        ("::ffff:8.8.8.8", None),
    ],
)
def test_refused_addresses(address, reason):
    assert fetch.refused_address(address) == reason


def test_loopback_is_refused_unless_allowed(server):
    for url in (f"{server.base}/ok.png", f"http://localhost:{server.server_address[1]}/ok.png"):
        with pytest.raises(ImageInputError, match="a loopback address; only public addresses.*--allow-private-urls"):
            load_image(url)
    assert server.paths == [], "a refused address must not even be connected to"
    assert load_image(f"{server.base}/ok.png", allow_private_urls=True).size == (20, 10)


def test_redirect_to_a_private_address_is_refused(server, monkeypatch):
    """Only 127.0.0.1 (the test server) counts as public here; its redirect to 127.0.0.2 is refused."""
    real = fetch.refused_address
    monkeypatch.setattr(fetch, "refused_address", lambda a: None if a == "127.0.0.1" else real(a))
    port = server.server_address[1]
    assert load_image(f"{server.base}/to?/ok.png").size == (20, 10)  # a redirect within the allowed host
    with pytest.raises(ImageInputError, match=f"127.0.0.2:{port}/ok.png resolves to 127.0.0.2, a loopback.*redirect"):
        load_image(f"{server.base}/to?http://127.0.0.2:{port}/ok.png")


def test_only_http_and_https_at_every_hop(server):
    with pytest.raises(ImageInputError, match="only http:// and https://"):
        load_image("ftp://127.0.0.1/a.png", allow_private_urls=True)
    with pytest.raises(ImageInputError, match="'ftp://127.0.0.1/a.png'; only http:// and https://.*redirect from"):
        load_image(f"{server.base}/to?ftp://127.0.0.1/a.png", allow_private_urls=True)
    with pytest.raises(ImageInputError, match="'file:///etc/passwd'; only http"):
        load_image(f"{server.base}/to?file:///etc/passwd", allow_private_urls=True)


def test_redirects_are_bounded(server):
    assert load_image(f"{server.base}/chain/5", allow_private_urls=True).size == (20, 10)
    with pytest.raises(ImageInputError, match="redirects more than 5 times"):
        load_image(f"{server.base}/chain/6", allow_private_urls=True)
    with pytest.raises(ImageInputError, match="redirects more than 2 times"):
        load_image(f"{server.base}/loop", allow_private_urls=True, max_redirects=2)
    assert server.paths.count("/loop") == 3


def test_announced_size_over_the_cap_is_refused_unread(server):
    with pytest.raises(ImageInputError, match="larger than 1 MiB \\(1000000000 bytes\\)"):
        load_image(f"{server.base}/huge", allow_private_urls=True, max_bytes=2**20)


@pytest.mark.parametrize("route", ["/drip-body", "/drip-head"])
def test_drip_feeding_server_is_abandoned_at_the_deadline(server, route):
    """A byte every 50 ms keeps every single read alive; the one deadline still ends the fetch, and the server
    sees the connection go long before it has sent everything."""
    with pytest.raises(ImageInputError, match="was not fetched within the deadline of 0.5 s"):
        load_image(server.base + route, allow_private_urls=True, timeout=0.5)
    assert server.drip_done.wait(30), "the drip server never saw the client go"
    assert server.dripped[0] < DRIP_BYTES // 2


def test_https_checks_the_certificate_and_keeps_the_deadline(tls_server, monkeypatch):
    with pytest.raises(ImageInputError, match="cannot fetch.*CERTIFICATE_VERIFY_FAILED"):
        load_image(f"{tls_server.base}/ok.png", allow_private_urls=True)
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_server.cert))  # trust the test's own certificate
    assert load_image(f"{tls_server.base}/ok.png", allow_private_urls=True).size == (20, 10)
    with pytest.raises(ImageInputError, match="within the deadline of 0.5 s"):
        load_image(f"{tls_server.base}/drip-body", allow_private_urls=True, timeout=0.5)
    assert tls_server.drip_done.wait(30)
    assert tls_server.dripped[0] < DRIP_BYTES // 2
