"""One devstack stack for all client tests: the repository's default stack under the `ci` profile,
copied to a temporary project, started detached, and stopped (with a check that nothing is left)
at the end of the session."""

import json
import os
import pathlib
import shutil
import subprocess
import tempfile
import urllib.parse
import urllib.request

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
DEVSTACK = os.environ.get("DEVSTACK_BIN") or str(REPO / ".build" / "debug" / "devstack")
# The services the client tests talk to; the gateway has its own end-to-end test.
SERVICES = ["db", "auth", "instant", "thinking"]


class Stack:
    def __init__(self, directory: pathlib.Path):
        self.directory = directory

    def devstack(self, *arguments: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [DEVSTACK, *arguments, "--profile", "ci"], cwd=self.directory, capture_output=True, text=True, timeout=timeout, check=check
        )

    @property
    def env(self) -> dict:
        return json.loads(self.devstack("env", "--format", "json").stdout)

    def service_env(self, service: str) -> dict:
        return json.loads(self.devstack("env", "--format", "json", "--service", service).stdout)

    def status(self) -> dict:
        return json.loads(self.devstack("status", "--json").stdout)

    def control(self, base: str, method: str, path: str, body: dict | None = None) -> dict:
        """A call to a mock's /__devstack routes; `base` is its OpenAI-style URL (…/v1)."""
        root = base.rsplit("/v1", 1)[0].removesuffix("/api")
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(root + path, data=data, method=method, headers={"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"{}")


def remove_project(directory: pathlib.Path):
    """Removes a temporary project and the data devstack kept outside it: as root, when the postgres user
    cannot reach the project, `.devstack/<profile>/data/<service>` links into /var/lib/devstack."""
    for link in directory.glob(".devstack/*/data/*"):
        if link.is_symlink():
            outside = pathlib.Path(os.readlink(link))
            shutil.rmtree(outside, ignore_errors=True)
            try:
                outside.parent.rmdir()
            except OSError:
                pass
    shutil.rmtree(directory, ignore_errors=True)


def _running_default_stack(prefix: str, services: list, auth_settings: str = ""):
    """The repository's default stack copied to a temporary project and started detached with `services`
    (all when empty), with `auth_settings` (YAML lines) added to its auth service; stopped and removed afterwards."""
    directory = pathlib.Path(tempfile.mkdtemp(prefix=prefix))
    for folder in ("stacks", "profiles"):
        shutil.copytree(REPO / folder, directory / folder)
    if auth_settings:
        stack_file = directory / "stacks" / "default" / "stack.yaml"
        text = stack_file.read_text()
        anchor = "    external_anonymous_users_enabled: true\n"
        assert anchor in text
        stack_file.write_text(text.replace(anchor, anchor + "".join(f"    {line}\n" for line in auth_settings.splitlines())))
    running = Stack(directory)
    try:
        started = running.devstack("up", "--detach", *services, check=False, timeout=300)
        if started.returncode != 0:
            raise RuntimeError(f"devstack up failed ({started.returncode}):\n{started.stdout}\n{started.stderr}")
        yield running
    finally:
        running.devstack("down", check=False, timeout=120)
        remove_project(directory)


@pytest.fixture(scope="session")
def stack():
    yield from _running_default_stack("devstack-clients-", SERVICES)


@pytest.fixture(scope="session")
def full_stack():
    """The whole default stack, the example gateway included, for tests that load or probe every server."""
    yield from _running_default_stack("devstack-full-", [])


@pytest.fixture(scope="session")
def es256_stack():
    """The whole default stack, its auth service signing with an ES256 key pair."""
    yield from _running_default_stack("devstack-es256-", [], auth_settings="signing_keys: ES256")


@pytest.fixture(scope="session")
def rs256_stack():
    """Postgres and auth, signing with an RS256 key pair."""
    yield from _running_default_stack("devstack-rs256-", ["db", "auth"], auth_settings="signing_keys: RS256")


@pytest.fixture(scope="session")
def oauth_stack():
    """Postgres and auth with two fake OAuth providers and redirects allowed to any loopback port."""
    settings = "\n".join([
        "external_github_enabled: true",
        "external_google_enabled: true",
        'oauth_identities: ["ada@example.com", "grace@example.com"]',
        'uri_allow_list: ["http://127.0.0.1:*/**"]',
    ])
    yield from _running_default_stack("devstack-oauth-", ["db", "auth"], auth_settings=settings)


@pytest.fixture(scope="session")
def own_secret_stack():
    """Postgres and an auth service with a JWT secret and API keys of its own."""
    yield from _running_default_stack("devstack-own-secret-", ["db", "auth"], auth_settings="own_jwt_secret: true")


@pytest.fixture
def env(stack) -> dict:
    return stack.env


@pytest.fixture
def clean_mocks(stack, env):
    """Each test starts with no injected faults and an empty journal."""
    for url in (env["INSTANT_URL"], env["THINK_URL"]):
        stack.control(url, "DELETE", "/__devstack/faults")
        stack.control(url, "DELETE", "/__devstack/requests")
    yield
    for url in (env["INSTANT_URL"], env["THINK_URL"]):
        stack.control(url, "DELETE", "/__devstack/faults")


@pytest.fixture
def auth_url(env) -> str:
    return env["SUPABASE_URL"] + "/auth/v1"


@pytest.fixture
def inbox(stack, env):
    """Reads the auth emulator's inbox: inbox(address) -> messages sent there, oldest first."""

    def read(address: str) -> list:
        query = urllib.parse.urlencode({"to": address})
        with urllib.request.urlopen(f"{env['SUPABASE_URL']}/__devstack/inbox?{query}", timeout=10) as response:
            return json.loads(response.read())["messages"]

    return read
