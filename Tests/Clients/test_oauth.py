"""OAuth without a real provider: the fake provider page, with the official client's URLs and in a
real browser (headless Chromium driven over the DevTools protocol), and ID tokens from the fake providers."""

import http.server
import json
import pathlib
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid

import httpx
import pytest
import websocket
from supabase_auth import SyncGoTrueClient
from supabase_auth.errors import AuthApiError


def _client(env, flow_type="implicit") -> SyncGoTrueClient:
    anon = env["SUPABASE_ANON_KEY"]
    return SyncGoTrueClient(
        url=env["SUPABASE_URL"] + "/auth/v1", headers={"apikey": anon, "Authorization": f"Bearer {anon}"},
        auto_refresh_token=False, persist_session=False, flow_type=flow_type,
    )


def test_the_clients_pkce_oauth_url_leads_through_the_page_to_a_session(oauth_stack):
    env = oauth_stack.env
    sdk = _client(env, flow_type="pkce")
    started = sdk.sign_in_with_oauth({"provider": "github", "options": {"redirect_to": "http://127.0.0.1:9/done"}})
    assert "code_challenge=" in started.url
    to_page = httpx.get(started.url, follow_redirects=False)
    assert to_page.status_code == 302
    page = httpx.get(to_page.headers["location"])
    assert "ada@example.com" in page.text
    state = re.search(r'name="state" value="([^"]+)"', page.text).group(1)
    email = f"new-{uuid.uuid4().hex[:8]}@example.com"
    back = httpx.post(to_page.headers["location"].split("?")[0], data={"state": state, "email": email, "name": "New Person"},
                      follow_redirects=False)
    assert back.status_code == 303
    location = urllib.parse.urlparse(back.headers["location"])
    assert (location.hostname, location.port, location.path) == ("127.0.0.1", 9, "/done")
    code = urllib.parse.parse_qs(location.query)["code"][0]
    session = sdk.exchange_code_for_session({"auth_code": code})
    assert session.user.email == email
    assert session.user.app_metadata["provider"] == "github"
    assert session.user.user_metadata["full_name"] == "New Person"
    assert [identity.provider for identity in session.user.identities] == ["github"]


def test_id_tokens_of_the_fake_provider_sign_in_with_the_client(oauth_stack):
    env = oauth_stack.env
    email = f"idt-{uuid.uuid4().hex[:8]}@example.com"
    minted = httpx.post(env["SUPABASE_URL"] + "/__devstack/oauth/google/id_token", json={"email": email, "nonce": "n-0S6_WzA2Mj"})
    id_token = minted.json()["id_token"]
    sdk = _client(env)
    with pytest.raises(AuthApiError):
        sdk.sign_in_with_id_token({"provider": "google", "token": id_token, "nonce": "another"})
    signed_in = sdk.sign_in_with_id_token({"provider": "google", "token": id_token, "nonce": "n-0S6_WzA2Mj"})
    assert signed_in.user.email == email
    assert signed_in.user.app_metadata["provider"] == "google"


def test_a_disabled_provider_is_refused_and_settings_say_which_are_on(oauth_stack):
    env = oauth_stack.env
    refused = httpx.get(env["SUPABASE_URL"] + "/auth/v1/authorize?provider=apple", follow_redirects=False)
    assert refused.status_code == 400 and refused.json()["msg"] == "Unsupported provider: provider is not enabled"
    external = httpx.get(env["SUPABASE_URL"] + "/auth/v1/settings").json()["external"]
    assert external["github"] and external["google"] and not external["apple"]


APP_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>app</title></head><body>
<a id="github" href="AUTH/authorize?provider=github&redirect_to=APP/index.html">Sign in with GitHub</a>
<p id="who"></p>
<script>
const fragment = new URLSearchParams(location.hash.slice(1));
const token = fragment.get("access_token");
if (token) {
  fetch("AUTH/user", {headers: {Authorization: "Bearer " + token, apikey: "ANON"}})
    .then(r => r.json())
    .then(user => { document.title = "signed in as " + user.email; document.getElementById("who").textContent = user.email; })
    .catch(error => { document.title = "failed: " + error; });
}
</script></body></html>"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class DevTools:
    """Just enough of the Chrome DevTools protocol: evaluate JavaScript in the page."""

    def __init__(self, url: str):
        self.socket = websocket.create_connection(url, timeout=30)
        self.next_id = 0

    def evaluate(self, expression: str):
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": "Runtime.evaluate",
                                     "params": {"expression": expression, "returnByValue": True}}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.next_id:
                return message.get("result", {}).get("result", {}).get("value")

    def wait_for(self, expression: str, what: str, timeout: float = 30):
        deadline = time.time() + timeout
        value = None
        while time.time() < deadline:
            try:
                value = self.evaluate(expression)
            except (websocket.WebSocketException, ConnectionError):
                value = None  # the page is navigating
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"never: {what} (last: {value!r}, at {self.evaluate('location.href')})")


@pytest.fixture
def browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    assert chromium, "chromium is not installed: Tests/Support/install-prerequisites --clients installs it"
    profile = tempfile.mkdtemp(prefix="devstack-chromium-")
    port = _free_port()
    process = subprocess.Popen(
        [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", f"--remote-debugging-port={port}",
         f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2) as response:
                    pages = [target for target in json.loads(response.read()) if target["type"] == "page"]
                if pages:
                    break
            except OSError:
                pass
            assert time.time() < deadline, "chromium did not open its DevTools port"
            time.sleep(0.1)
        yield DevTools(pages[0]["webSocketDebuggerUrl"])
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(profile, ignore_errors=True)


def test_a_browser_clicks_through_the_fake_provider_and_lands_back_signed_in(oauth_stack, browser):
    env = oauth_stack.env
    site = pathlib.Path(tempfile.mkdtemp(prefix="devstack-app-"))
    port = _free_port()
    app = f"http://127.0.0.1:{port}"
    (site / "index.html").write_text(
        APP_PAGE.replace("AUTH", env["SUPABASE_URL"] + "/auth/v1").replace("APP", app).replace("ANON", env["SUPABASE_ANON_KEY"]))
    handler = lambda *args: http.server.SimpleHTTPRequestHandler(*args, directory=str(site))  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.RequestHandlerClass.log_message = lambda *args: None
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        browser.evaluate(f"location.href = {json.dumps(app + '/index.html')}")
        browser.wait_for("document.getElementById('github') !== null", "the app page")
        browser.evaluate("document.getElementById('github').click()")
        browser.wait_for("document.querySelector('button[value=\"grace@example.com\"]') !== null", "the fake provider page")
        assert "Sign in with Github" in browser.evaluate("document.title")
        browser.evaluate("document.querySelector('button[value=\"grace@example.com\"]').click()")
        title = browser.wait_for("document.title.startsWith('signed in') || document.title.startsWith('failed') ? document.title : ''",
                                 "back at the app, signed in")
        assert title == "signed in as grace@example.com"
        assert browser.evaluate("location.origin") == app
    finally:
        server.shutdown()
        shutil.rmtree(site, ignore_errors=True)
