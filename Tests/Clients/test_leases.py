"""Database leases from Python: the three-line pytest fixture of the README, under pytest-xdist."""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import textwrap
import urllib.request

import psycopg

from conftest import DEVSTACK

# What the README tells pytest users to put in their conftest.py: one lease per worker process,
# ended when the worker exits (the lease lives with the process that asked for it).
CONFTEST = '''
import json, os, urllib.request
import pytest

@pytest.fixture(scope="session")
def database_url():
    lease = json.load(urllib.request.urlopen(urllib.request.Request(os.environ["DEVSTACK_LEASE_URL"] + "/leases", method="POST")))
    return lease["url"]
'''

# Each test writes its worker's rows and must see only those: 24 tests over 8 workers.
TESTS = '''
import os, pathlib
import psycopg
import pytest

@pytest.mark.parametrize("round", range(24))
def test_sees_only_its_own_rows(database_url, round):
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    with psycopg.connect(database_url, autocommit=True) as connection:
        before = connection.execute("select count(*) from public.conversations").fetchone()[0]
        connection.execute(
            "insert into public.conversations (user_id, mode, prompt, answer) values "
            "('00000000-0000-4000-8000-000000000001', 'instant', %s, 'x')", (worker,))
        prompts = {row[0] for row in connection.execute("select prompt from public.conversations where answer = 'x'")}
        assert prompts == {worker}, f"{worker} sees rows of {prompts - {worker}}"
        assert connection.execute("select count(*) from public.conversations").fetchone()[0] == before + 1
    with open(os.environ["LEASE_LOG"], "a") as log:
        log.write(f"{worker} {database_url.rsplit('/', 1)[1]}\\n")
'''


def _leases(stack) -> list:
    return json.loads(stack.devstack("db", "leases", "--json").stdout)


def test_eight_xdist_workers_each_lease_a_database_and_never_see_each_other(stack):
    suite = pathlib.Path(tempfile.mkdtemp(prefix="devstack-xdist-"))
    try:
        _run_the_isolated_suite(stack, suite)
    finally:
        shutil.rmtree(suite, ignore_errors=True)


def _run_the_isolated_suite(stack, suite):
    (suite / "conftest.py").write_text(CONFTEST)
    (suite / "test_isolated.py").write_text(TESTS)
    log = suite / "leases.log"
    run = subprocess.run(
        [DEVSTACK, "exec", "--profile", "ci", "--", sys.executable, "-m", "pytest", "-q", "-n", "8", "-p", "no:cacheprovider", str(suite)],
        cwd=stack.directory, capture_output=True, text=True, timeout=300, env={**os.environ, "LEASE_LOG": str(log)},
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "24 passed" in run.stdout
    pairs = {tuple(line.split()) for line in log.read_text().splitlines()}
    workers = {worker for worker, _ in pairs}
    databases = {database for _, database in pairs}
    assert len(workers) == 8 and len(databases) == 8, pairs
    assert all(database.startswith("app_lease_") for database in databases)
    # The workers have exited: their leases are taken back within the sweep's second.
    for _ in range(100):
        if not _leases(stack):
            break
        subprocess.run(["sleep", "0.1"])
    assert _leases(stack) == []
    # The stack's own database never saw a worker's row.
    with psycopg.connect(stack.env["DATABASE_URL"]) as connection:
        assert connection.execute("select count(*) from public.conversations where answer = 'x'").fetchone()[0] == 0


def test_the_cli_and_http_forms_lease_and_release(stack):
    holder = subprocess.Popen(["sleep", "300"])
    try:
        printed = stack.devstack("db", "lease", "--pid", str(holder.pid), "--json")
        lease = json.loads(printed.stdout)
        assert lease["holder_pid"] == holder.pid and lease["service"] == "db"
        with psycopg.connect(lease["url"]) as connection:
            assert connection.execute("select count(*) from auth.users").fetchone()[0] == 2, "a lease is the seeded state"
        assert [entry["name"] for entry in _leases(stack)] == [lease["name"]]
        stack.devstack("db", "release", lease["name"])
        assert _leases(stack) == []

        url = stack.env["DEVSTACK_LEASE_URL"]
        request = urllib.request.Request(url + "/leases", data=json.dumps({"pid": holder.pid}).encode(), method="POST")
        with urllib.request.urlopen(request) as response:
            assert response.status == 201
            named = json.load(response)
        assert named["holder_pid"] == holder.pid
        with urllib.request.urlopen(urllib.request.Request(url + "/leases/" + named["name"], method="DELETE")) as response:
            assert json.load(response)["ok"] is True
        assert _leases(stack) == []
    finally:
        holder.kill()
        holder.wait()
