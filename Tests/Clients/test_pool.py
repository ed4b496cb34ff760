"""The pooled URL (PgBouncer in front of the default stack's database): resets are pauses, not errors."""

import subprocess
import threading
import time

import psycopg


def test_a_client_writing_through_the_pool_at_full_speed_sees_no_error_across_200_resets(stack):
    env = stack.env
    url = env["DATABASE_POOL_URL"]
    assert url != env["DATABASE_URL"]
    errors, writes, stop = [], [0], threading.Event()

    def writer():
        # Transaction pooling: no protocol-level prepared statements (PgBouncer 1.18).
        with psycopg.connect(url, autocommit=True, prepare_threshold=None) as connection:
            while not stop.is_set():
                try:
                    connection.execute(
                        "insert into public.conversations (user_id, mode, prompt, answer) values "
                        "('00000000-0000-4000-8000-000000000001', 'instant', 'pooled', 'a')")
                    writes[0] += 1
                except Exception as error:  # every kind counts: the promise is no error at all
                    errors.append(repr(error))

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for _ in range(200):
            stack.devstack("reset")
    finally:
        stop.set()
        thread.join(timeout=30)
    assert errors == [], errors[:5]
    assert writes[0] > 200, "the client kept writing between the resets"
    # The same connection kept working; and a reset still puts the data back.
    stack.devstack("reset")
    with psycopg.connect(url, autocommit=True, prepare_threshold=None) as connection:
        assert connection.execute("select count(*) from public.conversations where prompt = 'pooled'").fetchone()[0] == 0
    assert "db-pool" in [service["name"] for service in stack.status()["services"]]


def test_the_pool_refuses_a_wrong_password(stack):
    url = stack.env["DATABASE_POOL_URL"]
    wrong = url.replace("postgres:", "postgres:not-", 1)
    try:
        psycopg.connect(wrong, connect_timeout=5).close()
        raise AssertionError("a wrong password got in")
    except psycopg.OperationalError as error:
        assert "password" in str(error).lower() or "authentication" in str(error).lower()
