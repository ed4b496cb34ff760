"""Every HTTP server of the default stack (auth emulator, mock inference, example gateway) against a
bounded corpus of malformed requests on loopback: never a 5xx, always an answer or a clean close, and no
connection left open on the server once the client is done."""

import base64
import hashlib
import hmac
import json
import pathlib
import socket
import time
import urllib.parse

import httpx
import pytest

# Each request goes out on its own connection; a reply is read until the server closes or this passes.
REPLY_WAIT = 5.0


def _ports(url: str) -> tuple[str, int]:
    parsed = urllib.parse.urlparse(url)
    return parsed.hostname, parsed.port


CLIENT_PORTS: set[int] = set()


def exchange(host: str, port: int, raw: bytes, *, half_close: bool = False, pause: float = 0.0) -> bytes:
    """Sends `raw` (in two halves with `pause` between them), reads what comes back, closes."""
    with socket.create_connection((host, port), timeout=REPLY_WAIT) as connection:
        CLIENT_PORTS.add(connection.getsockname()[1])
        try:
            if pause:
                connection.sendall(raw[: len(raw) // 2])
                time.sleep(pause)
                connection.sendall(raw[len(raw) // 2 :])
            else:
                connection.sendall(raw)
            if half_close:
                connection.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered early and closed: what it said is still readable
        received = b""
        deadline = time.time() + REPLY_WAIT
        while time.time() < deadline:
            try:
                chunk = connection.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
            if _complete(received):
                break
        return received


def _complete(data: bytes) -> bool:
    """One whole response (by Content-Length), so keep-alive servers need not close to be read."""
    if b"\r\n\r\n" not in data:
        return False
    head, body = data.split(b"\r\n\r\n", 1)
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip())
    return False


def statuses(data: bytes) -> list[int]:
    return [int(line.split()[1]) for line in data.split(b"\r\n") if line.startswith(b"HTTP/1.") and len(line.split()) > 1]


def open_connections(port: int) -> list[str]:
    """Server-side TCP connections of `port` to this test's clients that are still open (established or
    waiting to close). Other clients (the gateway's pool to a mock, health probes) are not this test's."""
    states = {"01": "ESTABLISHED", "08": "CLOSE_WAIT", "07": "CLOSE"}
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = pathlib.Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            local, state = fields[1], fields[3]
            remote = int(fields[2].split(":")[1], 16)
            if int(local.split(":")[1], 16) == port and remote in CLIENT_PORTS and state in states:
                found.append(f"{fields[2]} {states[state]}")
    return found


def request(method: str, path: str, body: bytes = b"", headers: dict | None = None, version: str = "HTTP/1.1") -> bytes:
    lines = [f"{method} {path} {version}", "Host: 127.0.0.1"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if body and not any(name.lower() in ("content-length", "transfer-encoding") for name in (headers or {})):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def corpus(path: str, auth_headers: dict) -> dict[str, tuple[bytes, dict]]:
    """Name -> (raw request, how to send it)."""
    json_headers = {"Content-Type": "application/json", **auth_headers}
    deep = b"[" * 10000 + b"]" * 10000
    cases = {
        "bad json": (request("POST", path, b"{not json", json_headers), {}),
        "json array": (request("POST", path, b"[1,2,3]", json_headers), {}),
        "wrong types": (request("POST", path, b'{"message": 5, "model": [], "email": {}, "messages": "x"}', json_headers), {}),
        "deep nesting": (request("POST", path, deep, json_headers), {}),
        "nul in strings": (request("POST", path, b'{"message": "a\\u0000b", "email": "a\\u0000@x", "password": "\\u0000"}', json_headers), {}),
        "raw nul byte": (request("POST", path, b'{"message": "a\x00b"}', json_headers), {}),
        "invalid utf-8": (request("POST", path, b'{"message": "\xff\xfe"}', json_headers), {}),
        "huge body": (request("POST", path, b"x" * (12 << 20), json_headers), {}),
        "huge body, connection close": (request("POST", path, b"x" * (12 << 20), {**json_headers, "Connection": "close"}), {}),
        "huge header": (request("GET", path, b"", {"X-Big": "y" * (200 << 10)}), {}),
        "many headers": (request("GET", path, b"", {f"X-H{i}": "v" for i in range(2000)}), {}),
        "bad chunked": (
            request("POST", path, b"zz\r\nabc\r\n0\r\n\r\n", {**json_headers, "Transfer-Encoding": "chunked"}), {}),
        "chunk longer than said": (
            request("POST", path, b"2\r\nabcdef\r\n0\r\n\r\n", {**json_headers, "Transfer-Encoding": "chunked"}), {}),
        "content-length lies": (request("POST", path, b"{}", {**json_headers, "Content-Length": "10"}), {"half_close": True}),
        "http/1.0": (request("GET", path, version="HTTP/1.0"), {}),
        "http/1.0 post": (request("POST", path, b"{}", json_headers, version="HTTP/1.0"), {}),
        "pipelined": (request("GET", path) + request("POST", path, b"{", json_headers) + request("GET", "/nowhere"), {}),
        "slow partial request": (request("POST", path, b'{"message": "slow"}', json_headers), {"pause": 0.5}),
        "garbage line": (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64, {}),
        "no path": (b"GET\r\n\r\n", {}),
        "unknown method": (request("BREW", path), {}),
        "bad percent-encoding": (request("GET", path + "?x=%zz&y=%", b""), {}),
        "half-closed after request": (request("GET", path), {"half_close": True}),
    }
    return cases


SERVERS = {
    "auth": ("SUPABASE_URL", "/auth/v1/token?grant_type=password"),
    "instant": ("INSTANT_URL", "/v1/chat/completions"),
    "gateway": ("GATEWAY_URL", "/v1/chat"),
}


@pytest.mark.parametrize("server", sorted(SERVERS))
def test_malformed_requests_never_get_a_5xx_nor_leave_a_connection_open(full_stack, server):
    env = full_stack.env
    variable, path = SERVERS[server]
    host, port = _ports(env[variable])
    auth_headers = {"apikey": env["SUPABASE_ANON_KEY"]}
    if server == "gateway":
        token = httpx.post(
            env["SUPABASE_URL"] + "/auth/v1/token?grant_type=password", headers=auth_headers,
            json={"email": "alice@example.com", "password": "devstack-demo"}, timeout=30,
        ).json()["access_token"]
        auth_headers = {"Authorization": f"Bearer {token}"}
    server_errors = {}
    for name, (raw, how) in corpus(path, auth_headers).items():
        reply = exchange(host, port, raw, **how)
        bad = [status for status in statuses(reply) if status >= 500]
        if bad:
            server_errors[name] = reply[:300]
    assert server_errors == {}, f"{server}: {server_errors}"
    # The clients above have all closed; the server must have let go of every connection.
    deadline = time.time() + 10
    while open_connections(port) and time.time() < deadline:
        time.sleep(0.1)
    assert open_connections(port) == [], f"{server} still holds connections"
    # And it still serves.
    assert statuses(exchange(host, port, request("GET", "/nowhere"))) != []


def _forge(header: dict, payload: dict, secret: bytes) -> str:
    encode = lambda data: base64.urlsafe_b64encode(data).rstrip(b"=").decode()  # noqa: E731
    signing_input = encode(json.dumps(header).encode()) + "." + encode(json.dumps(payload).encode())
    return signing_input + "." + encode(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())


def test_the_gateway_accepts_exactly_its_algorithm(full_stack):
    env = full_stack.env
    secret = full_stack.service_env("gateway")["SUPABASE_JWT_SECRET"].encode()
    now = int(time.time())
    payload = {"sub": "00000000-0000-0000-0000-0000000000a1", "aud": "authenticated", "role": "authenticated", "exp": now + 600}
    conversations = env["GATEWAY_URL"] + "/v1/conversations"

    def status(token: str) -> int:
        return httpx.get(conversations, headers={"Authorization": f"Bearer {token}"}, timeout=30).status_code

    # The forger is sound: HS256 with the secret passes.
    assert status(_forge({"alg": "HS256", "typ": "JWT"}, payload, secret)) == 200
    for alg in ("RS256", "ES256", "none", "XYZ", "hs256", "HS512", ""):
        assert status(_forge({"alg": alg, "typ": "JWT"}, payload, secret)) == 401, alg
    assert status(_forge({"typ": "JWT"}, payload, secret)) == 401
