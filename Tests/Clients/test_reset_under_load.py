"""devstack's own services ride over resets: sign-ins through the auth emulator and chats through the
example gateway keep working while the database is reset back to back (put back in place), and a
client that reconnects the moment a swap terminates its connection never finds the database's name
missing (both renames of the swap commit together)."""

import threading
import time

import httpx
import psycopg

RESETS = 100
# A client timeout, not a speed target: a request that waits this long has hung on a reset.
HUNG = 15.0


def test_sign_ins_and_chats_ride_over_back_to_back_resets(full_stack):
    env = full_stack.env
    auth = env["SUPABASE_URL"] + "/auth/v1"
    headers = {"apikey": env["SUPABASE_ANON_KEY"]}
    credentials = {"email": "alice@example.com", "password": "devstack-demo"}
    token = httpx.post(f"{auth}/token?grant_type=password", json=credentials, headers=headers, timeout=HUNG).json()["access_token"]
    done = threading.Event()
    outcomes = {"sign-in": [], "chat": []}
    lock = threading.Lock()

    def load(kind):
        with httpx.Client(timeout=HUNG) as client:
            while not done.is_set():
                try:
                    if kind == "sign-in":
                        reply = client.post(f"{auth}/token?grant_type=password", json=credentials, headers=headers)
                    else:
                        reply = client.post(
                            env["GATEWAY_URL"] + "/v1/chat", json={"message": "hello", "mode": "instant"},
                            headers={"Authorization": f"Bearer {token}"},
                        )
                    outcome = reply.status_code if reply.status_code != 200 else 200
                    detail = reply.text[:200]
                except httpx.TimeoutException:
                    outcome, detail = "hung", ""
                except httpx.HTTPError as error:
                    outcome, detail = "transport", repr(error)
                with lock:
                    outcomes[kind].append((outcome, detail))

    workers = [threading.Thread(target=load, args=(kind,)) for kind in ("sign-in", "sign-in", "chat", "chat")]
    for worker in workers:
        worker.start()
    try:
        for _ in range(RESETS):
            reset = full_stack.devstack("reset", check=False)
            assert reset.returncode == 0, reset.stderr
    finally:
        done.set()
        for worker in workers:
            worker.join()
    for kind, results in outcomes.items():
        failures = [result for result in results if result[0] != 200]
        assert results, f"no {kind} request was made"
        assert failures == [], f"{len(failures)} of {len(results)} {kind} requests failed: {failures[:5]}"


def test_a_reconnect_the_moment_a_reset_ends_the_connection_finds_the_database(full_stack):
    url = full_stack.env["DATABASE_URL"]
    done = threading.Event()
    seen = {"terminated": 0, "reconnects": 0, "renamed": 0, "missing": [], "other": []}

    def client():
        connection = psycopg.connect(url, autocommit=True)
        while not done.is_set():
            try:
                connection.execute("select 1").fetchone()
                continue
            except psycopg.OperationalError:
                seen["terminated"] += 1
            # At once, as a pool or a retrying client would: the name must be there.
            while not done.is_set():
                try:
                    connection = psycopg.connect(url, autocommit=True)
                    seen["reconnects"] += 1
                    break
                except psycopg.OperationalError as error:
                    text = str(error)
                    # Postgres's own recheck of a connection that looked the name up just before the
                    # rename committed says "does not exist ... just been dropped or renamed": the name
                    # itself was there. A lookup that finds no such name says no more.
                    if "just been dropped or renamed" in text:
                        seen["renamed"] += 1
                    elif "does not exist" in text:
                        seen["missing"].append(text)
                    elif "not currently accepting connections" not in text:
                        seen["other"].append(text)
                    time.sleep(0.002)
        connection.close()

    worker = threading.Thread(target=client)
    worker.start()
    try:
        for _ in range(RESETS):
            # DDL sends the reset to the swap, the path that ends connections (the fast path ends none).
            with psycopg.connect(url, autocommit=True) as ddl:
                ddl.execute("comment on schema public is 'changed by the test'")
            reset = full_stack.devstack("reset", check=False)
            assert reset.returncode == 0, reset.stderr
    finally:
        done.set()
        worker.join()
    assert seen["terminated"] > 0, "the resets never ended the client's connection"
    assert seen["missing"] == [], f"{len(seen['missing'])} reconnects found no database: {seen['missing'][:3]}"
    assert seen["other"] == [], seen["other"][:3]
