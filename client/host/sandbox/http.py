"""``http-request``: real outbound HTTP for plugins, through the sandbox's checks.

* Only ``http`` and ``https``; no credentials in URLs; the host must be on the manifest's
  allowlist (checked on the parsed URL, so ``user@host`` tricks cannot change the host).
* SSRF protection at connect time: :class:`VettingNetworkBackend` resolves the name once,
  judges the resolved addresses (see :mod:`client.host.sandbox.addresses`) and connects to the
  address it judged, so there is no window for DNS rebinding. TLS is still verified against
  the host name of the URL. It plugs into httpx through httpx's public seam, a transport
  (:class:`VettedTransport`), over httpcore's public one, the network backend.
* Redirects are followed by hand, each hop checked like the first.
* The whole request (resolution, connect, redirects, body) has one deadline, and the response
  body is read in a bounded stream.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ipaddress
import socket
import ssl
import time
import typing
import zlib
from collections.abc import Sequence

import httpcore
import httpx

from client.host.sandbox.addresses import IPNetwork, blocked_reason
from client.host.sandbox.decisions import HostCallFailed, PolicyDenied
from client.host.sandbox.hosts import HostAllowlist
from client.host.settings import HttpPolicy

ALLOWED_SCHEMES = frozenset({"http", "https"})
ALLOWED_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Headers the host sets itself; a plugin may not.
RESERVED_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "upgrade",
        "te",
        "trailer",
        "proxy-authorization",
        "proxy-connection",
        "accept-encoding",
    }
)
MAX_HEADER_CHARS = 8192
MAX_URL_CHARS = 8192
# Charsets a response body is decoded from when its server names one; anything else is read
# as UTF-8 (with replacement). Each decodes in linear time: some of Python's codecs do not
# (punycode is quadratic), and the server, not the host, would choose.
RESPONSE_CHARSETS: dict[str, str] = {
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "us-ascii": "ascii",
    "ascii": "ascii",
    "iso-8859-1": "latin-1",
    "latin-1": "latin-1",
    "latin1": "latin-1",
    "windows-1252": "cp1252",
    "cp1252": "cp1252",
    "utf-16": "utf-16",
    "utf-16le": "utf-16-le",
    "utf-16be": "utf-16-be",
}


def response_charset(declared: str | None) -> str:
    """The codec a response body is decoded with: the declared charset if it is on the
    allowlist, else UTF-8."""
    if declared is None or len(declared) > 32:
        return "utf-8"
    return RESPONSE_CHARSETS.get(declared.strip().lower(), "utf-8")


_resolver_pool = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="dns")


def _resolve(host: str, port: int, timeout: float) -> list[str]:
    """Addresses of ``host`` (bounded in time), IPv4 and IPv6, in resolver order."""
    future = _resolver_pool.submit(socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM)
    try:
        infos = future.result(timeout=max(timeout, 0.001))
    except concurrent.futures.TimeoutError:
        raise HostCallFailed(f"resolving {host!r} took longer than {timeout:.1f} s") from None
    except (OSError, UnicodeError) as exc:
        raise HostCallFailed(f"cannot resolve {host!r}: {exc}") from None
    seen: list[str] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in seen:
            seen.append(address)
    return seen


class VettingNetworkBackend(httpcore.NetworkBackend):
    """Connects only to addresses that pass the SSRF policy, and to exactly the one it vetted."""

    def __init__(self, allowed_networks: Sequence[IPNetwork], dns_timeout_s: float) -> None:
        self._allowed = tuple(allowed_networks)
        self._dns_timeout = dns_timeout_s
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        budget = self._dns_timeout if timeout is None else min(timeout, self._dns_timeout)
        addresses = _resolve(host, port, budget)
        reasons: list[str] = []
        for address in addresses:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
            reason = blocked_reason(ip, allowed_networks=self._allowed)
            if reason is None:
                return self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            reasons.append(reason)
        detail = "; ".join(reasons) if reasons else "no addresses"
        raise PolicyDenied(f"{host!r} resolves only to addresses plugins may not reach ({detail})")

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise PolicyDenied("plugins may not connect to Unix sockets")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class VettedTransport(httpx.BaseTransport):
    """httpx's transport seam over an httpcore connection pool whose one way to open a socket
    is a :class:`VettingNetworkBackend` (httpx's own transport builds its pool itself)."""

    def __init__(self, ssl_context: ssl.SSLContext, backend: VettingNetworkBackend) -> None:
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context, network_backend=backend, retries=0, max_connections=4
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not isinstance(request.stream, httpx.SyncByteStream):
            raise TypeError("the sandbox sends request bodies it holds in memory")
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _httpx_errors(request):
            response = self._pool.handle_request(core_request)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseBody(response, request),
            extensions=response.extensions,
        )

    def close(self) -> None:
        self._pool.close()


class _ResponseBody(httpx.SyncByteStream):
    def __init__(self, response: httpcore.Response, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    def __iter__(self) -> typing.Iterator[bytes]:
        with _httpx_errors(self._request):
            yield from typing.cast("typing.Iterable[bytes]", self._response.stream)

    def close(self) -> None:
        self._response.close()


@contextlib.contextmanager
def _httpx_errors(request: httpx.Request) -> typing.Iterator[None]:
    """httpcore's errors as the httpx errors the sandbox handles (a refusal passes through)."""
    try:
        yield
    except httpcore.TimeoutException as exc:
        raise httpx.TimeoutException(str(exc), request=request) from exc
    except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.ProxyError) as exc:
        raise httpx.TransportError(str(exc), request=request) from exc
    except httpcore.UnsupportedProtocol as exc:
        raise httpx.UnsupportedProtocol(str(exc), request=request) from exc


class SandboxedHttp:
    """``http-request`` for one plugin."""

    def __init__(self, allowlist: HostAllowlist, policy: HttpPolicy) -> None:
        self._allowlist = allowlist
        self._policy = policy
        self._ssl_context: ssl.SSLContext | None = None

    def _ssl(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            if self._policy.ca_bundle is not None:
                self._ssl_context = ssl.create_default_context(cafile=str(self._policy.ca_bundle))
            else:
                self._ssl_context = httpx.create_ssl_context()
        return self._ssl_context

    def check_url(self, url: str | httpx.URL) -> httpx.URL:
        """Parse and vet a URL; raise :class:`PolicyDenied` naming the rule it breaks."""
        if isinstance(url, str):
            if len(url) > MAX_URL_CHARS:
                raise PolicyDenied(f"URL longer than {MAX_URL_CHARS} characters")
            try:
                parsed = httpx.URL(url)
            except (httpx.InvalidURL, UnicodeError, ValueError) as exc:
                raise PolicyDenied(f"malformed URL: {exc}") from None
        else:
            parsed = url
        scheme = parsed.scheme.lower()
        if scheme not in ALLOWED_SCHEMES:
            raise PolicyDenied(
                f"URL scheme {scheme + ':' if scheme else '(none)'} refused: only http and https"
            )
        if parsed.userinfo:
            raise PolicyDenied("URLs with credentials (user@host) are refused")
        host = parsed.host
        if not host:
            raise PolicyDenied("URL has no host")
        if not self._allowlist.permits_host(host):
            raise PolicyDenied(
                f"host {host!r} is not in the manifest's [permissions] network allowlist"
            )
        port = parsed.port or (443 if scheme == "https" else 80)
        if not self._allowlist.permits(host, port):
            raise PolicyDenied(
                f"port {port} of {host!r} is not allowed: a [permissions] network entry allows "
                "ports 80 and 443 unless it names its port (host:port)"
            )
        return parsed

    def _headers(self, headers: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
        if len(headers) > self._policy.max_headers:
            raise PolicyDenied(f"more than {self._policy.max_headers} request headers")
        kept: list[tuple[str, str]] = []
        for name, value in headers:
            if len(name) + len(value) > MAX_HEADER_CHARS:
                raise PolicyDenied(f"request header {name[:40]!r} is too long")
            if any(ch in name + value for ch in "\r\n\x00"):
                raise PolicyDenied(f"request header {name[:40]!r} contains a line break")
            if name.strip().lower() in RESERVED_HEADERS:
                raise PolicyDenied(f"request header {name!r} is set by the host, not the plugin")
            kept.append((name, value))
        return kept

    def request(
        self,
        method: str,
        url: str,
        headers: Sequence[tuple[str, str]],
        body: str | None,
        *,
        deadline: float,
    ) -> str:
        """Perform the request; return the response text.

        ``deadline`` is a ``time.monotonic()`` instant (the call's own deadline); the request's
        time bound is the earlier of it and the policy's timeout.
        """
        verb = method.upper()
        if verb not in ALLOWED_METHODS:
            raise PolicyDenied(f"HTTP method {method[:20]!r} is not allowed")
        target = self.check_url(url)
        clean_headers = self._headers(headers)
        limit = self._policy.max_request_body_bytes
        if body is not None and len(body) > limit:  # at least one byte a character
            raise PolicyDenied(f"request body of over {limit:,} bytes is over the limit")
        content = None if body is None else body.encode("utf-8")
        if content is not None and len(content) > limit:
            raise PolicyDenied(
                f"request body of {len(content):,} bytes is over the "
                f"{self._policy.max_request_body_bytes:,}-byte limit"
            )
        if self._policy.offline:
            raise HostCallFailed("network access is disabled on this host (offline mode)")
        deadline = min(deadline, time.monotonic() + self._policy.timeout_s)
        backend = VettingNetworkBackend(
            self._policy.allowed_private_networks, self._policy.dns_timeout_s
        )
        transport = VettedTransport(self._ssl(), backend)
        with httpx.Client(transport=transport, follow_redirects=False, trust_env=False) as client:
            for _hop in range(self._policy.max_redirects + 1):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise HostCallFailed("the request ran out of time")
                request = client.build_request(
                    verb,
                    target,
                    headers=[*clean_headers, ("accept-encoding", "gzip, deflate, identity")],
                    content=content,
                    timeout=httpx.Timeout(remaining),
                )
                try:
                    response = client.send(request, stream=True)
                except httpx.TimeoutException:
                    raise HostCallFailed("the request ran out of time") from None
                except httpx.HTTPError as exc:
                    raise HostCallFailed(f"request to {target.host!r} failed: {exc}") from None
                try:
                    if response.is_redirect and "location" in response.headers:
                        try:
                            next_url = target.join(response.headers["location"])
                        except (httpx.InvalidURL, ValueError) as exc:
                            raise HostCallFailed(f"malformed redirect: {exc}") from None
                        try:
                            target = self.check_url(next_url)
                        except PolicyDenied as exc:
                            raise PolicyDenied(f"redirect to {next_url} refused: {exc}") from None
                        if response.status_code == 303 or (
                            response.status_code in (301, 302) and verb == "POST"
                        ):
                            verb, content = "GET", None
                        continue
                    text = self._read_body(response, deadline)
                    if not response.is_success:
                        raise HostCallFailed(
                            f"HTTP {response.status_code} {response.reason_phrase} "
                            f"from {target.host}"
                        )
                    return text
                finally:
                    response.close()
            raise HostCallFailed(f"more than {self._policy.max_redirects} redirects")

    def _read_body(self, response: httpx.Response, deadline: float) -> str:
        """The body, decompressed with a bound (a small gzip bomb cannot expand past it)."""
        limit = self._policy.max_response_bytes
        coding = response.headers.get("content-encoding", "identity").strip().lower()
        if coding not in ("identity", "gzip", "deflate", ""):
            raise HostCallFailed(f"response content-encoding {coding!r} is not supported")
        inflater = None if coding in ("identity", "") else zlib.decompressobj(wbits=47)
        body = bytearray()
        try:
            for chunk in response.iter_raw():
                if time.monotonic() > deadline:
                    raise HostCallFailed("the response ran out of time")
                if inflater is None:
                    body += chunk
                else:
                    body += inflater.decompress(chunk, limit + 1 - len(body))
                    if inflater.unconsumed_tail:
                        raise HostCallFailed(f"response is over the {limit:,}-byte limit")
                if len(body) > limit:
                    raise HostCallFailed(f"response is over the {limit:,}-byte limit")
        except httpx.TimeoutException:
            raise HostCallFailed("the response ran out of time") from None
        except httpx.HTTPError as exc:
            raise HostCallFailed(f"reading the response failed: {exc}") from None
        except zlib.error as exc:
            raise HostCallFailed(f"response is not valid {coding}: {exc}") from None
        return body.decode(response_charset(response.charset_encoding), errors="replace")
