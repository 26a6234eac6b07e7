"""TLS is verified against the URL's host name, although the socket goes to a vetted address."""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from client.host import HostSettings, HttpPolicy, PluginError, PluginHost
from tests.conftest import LogRecorder, with_manifest


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate valid for the name ``localhost`` only (not for 127.0.0.1)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class _Hello(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return

    def do_GET(self) -> None:
        body = b"hello over tls"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    cert, key = _self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    httpd.daemon_threads = True
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1], cert
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_tls_name_is_checked_against_the_url_host(
    tls_server: tuple[int, Path],
    built: dict[str, Path],
    tmp_path: Path,
    log_recorder: LogRecorder,
) -> None:
    port, cert = tls_server
    host = PluginHost(
        HostSettings(
            http=HttpPolicy(
                allowed_private_networks=(ipaddress.ip_network("127.0.0.0/8"),), ca_bundle=cert
            )
        ),
        log_sink=log_recorder,
    )
    component = with_manifest(
        built["fetch"],
        tmp_path / "fetch",
        permissions={"network": [f"localhost:{port}", f"127.0.0.1:{port}"]},
    )
    plugin = host.load(component)
    out = plugin.invoke("get", json.dumps({"url": f"https://localhost:{port}/"}))
    assert json.loads(out) == {"body": "hello over tls"}
    # Same server, same vetted address, but the certificate is not for "127.0.0.1".
    with pytest.raises(PluginError, match="certificate"):
        plugin.invoke("get", json.dumps({"url": f"https://127.0.0.1:{port}/"}))


def test_untrusted_certificate_is_refused(
    tls_server: tuple[int, Path], built: dict[str, Path], tmp_path: Path
) -> None:
    port, _cert = tls_server
    host = PluginHost(
        HostSettings(
            http=HttpPolicy(allowed_private_networks=(ipaddress.ip_network("127.0.0.0/8"),))
        )
    )
    component = with_manifest(
        built["fetch"], tmp_path / "fetch", permissions={"network": [f"localhost:{port}"]}
    )
    with pytest.raises(PluginError, match="certificate"):
        host.load(component).invoke("get", json.dumps({"url": f"https://localhost:{port}/"}))
