"""The default stack the way a user meets it: up with the ci profile, sign up with supabase-auth, chat
through the example gateway in both modes (streaming too), row-level security between two users,
reset, down, and nothing left running or listening."""

import json
import os
import pathlib
import shutil
import socket
import subprocess
import tempfile
import uuid

import httpx
import psycopg
import pytest
from supabase_auth import SyncGoTrueClient

from conftest import DEVSTACK, REPO


def devstack(directory, *arguments, timeout=300):
    return subprocess.run([DEVSTACK, *arguments, "--profile", "ci"], cwd=directory, capture_output=True, text=True, timeout=timeout)


def listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def stack_processes(directory) -> list:
    """Processes whose command line mentions the temporary project (the supervisor, guardian, services)."""
    found = []
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if str(directory) in command or cwd.startswith(str(directory)):
            found.append((entry.name, command))
    return found


def test_the_default_stack_end_to_end():
    directory = pathlib.Path(tempfile.mkdtemp(prefix="devstack-e2e-"))
    for folder in ("stacks", "profiles"):
        shutil.copytree(REPO / folder, directory / folder)
    try:
        up = devstack(directory, "up", "--detach")
        assert up.returncode == 0, up.stdout + up.stderr
        env = json.loads(devstack(directory, "env", "--format", "json").stdout)
        status = json.loads(devstack(directory, "status", "--json").stdout)
        ports = [port for service in status["services"] for port in service["ports"].values()]
        assert {service["name"]: service["phase"] for service in status["services"]} == {
            "db": "healthy", "db-pool": "healthy", "auth": "healthy", "instant": "healthy", "thinking": "healthy", "gateway": "healthy"
        }
        # The pooled URL reaches the same database through PgBouncer.
        with psycopg.connect(env["DATABASE_POOL_URL"], prepare_threshold=None) as pooled:
            assert pooled.execute("select count(*) from auth.users").fetchone()[0] == 2

        anon = env["SUPABASE_ANON_KEY"]
        auth = SyncGoTrueClient(
            url=env["SUPABASE_URL"] + "/auth/v1", headers={"apikey": anon, "Authorization": f"Bearer {anon}"},
            auto_refresh_token=False, persist_session=False,
        )
        first = auth.sign_up({"email": f"first-{uuid.uuid4().hex[:8]}@example.com", "password": "first-password"}).session
        second = auth.sign_up({"email": f"second-{uuid.uuid4().hex[:8]}@example.com", "password": "second-password"}).session
        gateway = env["GATEWAY_URL"]
        as_first = {"Authorization": f"Bearer {first.access_token}"}

        instant = httpx.post(f"{gateway}/v1/chat", json={"message": "hello from the test", "mode": "instant"}, headers=as_first, timeout=30)
        assert instant.status_code == 200, instant.text
        assert instant.json()["answer"] == "Hello! This is the devstack mock."
        thinking = httpx.post(f"{gateway}/v1/chat", json={"message": "the meaning of life?", "mode": "thinking"}, headers=as_first, timeout=30)
        assert thinking.json()["answer"] == "42, according to the mock."
        assert thinking.json()["reasoning"].startswith("The user asks a classic question.")
        with httpx.stream("POST", f"{gateway}/v1/chat", json={"message": "stream it", "mode": "thinking", "stream": True}, headers=as_first, timeout=30) as stream:
            events = [json.loads(line[6:]) for line in stream.iter_lines() if line.startswith("data: ")]
        assert "".join(event.get("delta", "") for event in events) == "You said: stream it"
        assert any("reasoning" in event for event in events)
        assert events[-1]["done"] is True

        mine = httpx.get(f"{gateway}/v1/conversations", headers=as_first).json()["conversations"]
        assert [row["prompt"] for row in mine] == ["hello from the test", "the meaning of life?", "stream it"]
        theirs = httpx.get(f"{gateway}/v1/conversations", headers={"Authorization": f"Bearer {second.access_token}"}).json()["conversations"]
        assert theirs == []
        forged = httpx.get(f"{gateway}/v1/conversations", headers={"Authorization": "Bearer " + first.access_token[:-3] + "abc"})
        assert forged.status_code == 401

        reset = devstack(directory, "reset")
        assert reset.returncode == 0, reset.stderr
        # Users are gone with the rows; the seeded ones are back.
        with pytest.raises(Exception):
            auth.sign_in_with_password({"email": first.user.email, "password": "first-password"})
        alice = auth.sign_in_with_password({"email": "alice@example.com", "password": "devstack-demo"}).session
        rows = httpx.get(f"{gateway}/v1/conversations", headers={"Authorization": f"Bearer {alice.access_token}"}).json()["conversations"]
        assert [row["prompt"] for row in rows] == ["Hello"]

        down = devstack(directory, "down")
        assert down.returncode == 0, down.stderr
        assert [port for port in ports if listening(port)] == []
        assert stack_processes(directory) == []
    finally:
        devstack(directory, "down", timeout=120)
        shutil.rmtree(directory, ignore_errors=True)
