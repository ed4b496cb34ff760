"""The official `supabase-auth` Python client against devstack's auth emulator, and `psycopg` showing
that the tokens it issues drive row-level security in the stack's Postgres."""

import base64
import hashlib
import hmac
import json
import time
import uuid

import httpx
import psycopg
import pytest
from supabase_auth import SyncGoTrueAdminAPI, SyncGoTrueClient
from supabase_auth.errors import AuthApiError, AuthWeakPasswordError


def client(auth_url, env) -> SyncGoTrueClient:
    anon = env["SUPABASE_ANON_KEY"]
    return SyncGoTrueClient(
        url=auth_url, headers={"apikey": anon, "Authorization": f"Bearer {anon}"}, auto_refresh_token=False, persist_session=False
    )


def admin(auth_url, env) -> SyncGoTrueAdminAPI:
    key = env["SUPABASE_SERVICE_ROLE_KEY"]
    return SyncGoTrueAdminAPI(url=auth_url, headers={"apikey": key, "Authorization": f"Bearer {key}"})


def unique_email(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@example.com"


def test_sign_up_sign_in_get_user_refresh_update_and_sign_out(auth_url, env):
    sdk = client(auth_url, env)
    email = unique_email("flow")
    signed_up = sdk.sign_up({"email": email, "password": "correct horse", "options": {"data": {"name": "Flo"}}})
    assert signed_up.user.email == email
    assert signed_up.user.user_metadata["name"] == "Flo"
    assert signed_up.session.token_type == "bearer"

    signed_in = sdk.sign_in_with_password({"email": email, "password": "correct horse"})
    session = signed_in.session
    assert session.user.id == signed_up.user.id
    assert session.expires_in == 3600
    assert session.expires_at > time.time()

    assert sdk.get_user(session.access_token).user.email == email

    refreshed = sdk.refresh_session(session.refresh_token)
    assert refreshed.session.refresh_token != session.refresh_token
    assert refreshed.user.id == signed_up.user.id
    # The rotated-out token is dead, and presenting it again ends the session.
    with pytest.raises(AuthApiError) as reused:
        sdk.refresh_session(session.refresh_token)
    assert reused.value.code == "refresh_token_already_used"
    with pytest.raises(AuthApiError):
        sdk.refresh_session(refreshed.session.refresh_token)

    fresh = sdk.sign_in_with_password({"email": email, "password": "correct horse"}).session
    sdk.set_session(fresh.access_token, fresh.refresh_token)
    updated = sdk.update_user({"data": {"plan": "pro"}, "password": "battery staple"})
    assert updated.user.user_metadata == {"name": "Flo", "plan": "pro"}
    assert sdk.sign_in_with_password({"email": email, "password": "battery staple"}).session
    sdk.sign_out()
    # A global sign-out ends every session: the old access token no longer finds one.
    with pytest.raises(AuthApiError):
        client(auth_url, env).get_user(fresh.access_token)


def test_seeded_users_sign_in(auth_url, env):
    session = client(auth_url, env).sign_in_with_password({"email": "alice@example.com", "password": "devstack-demo"}).session
    assert session.user.email == "alice@example.com"


def test_errors_carry_gotrue_codes(auth_url, env):
    sdk = client(auth_url, env)
    email = unique_email("errors")
    with pytest.raises(AuthWeakPasswordError) as weak:
        sdk.sign_up({"email": email, "password": "123"})
    assert weak.value.code == "weak_password"
    assert weak.value.status == 422
    assert weak.value.reasons == ["length"]
    sdk.sign_up({"email": email, "password": "long enough"})
    with pytest.raises(AuthApiError) as duplicate:
        sdk.sign_up({"email": email, "password": "long enough"})
    assert duplicate.value.code == "user_already_exists"
    with pytest.raises(AuthApiError) as wrong:
        sdk.sign_in_with_password({"email": email, "password": "not it"})
    assert wrong.value.code == "invalid_credentials"
    assert wrong.value.status == 400


def test_anonymous_sign_in(auth_url, env):
    response = client(auth_url, env).sign_in_anonymously()
    assert response.user.is_anonymous is True
    claims = json.loads(base64.urlsafe_b64decode(response.session.access_token.split(".")[1] + "=="))
    assert claims["is_anonymous"] is True
    assert claims["role"] == "authenticated"


def test_admin_create_list_get_update_and_delete(auth_url, env):
    api = admin(auth_url, env)
    email = unique_email("admin")
    created = api.create_user({"email": email, "password": "admin-made", "email_confirm": True, "user_metadata": {"team": "qa"}})
    assert created.user.email == email
    assert created.user.email_confirmed_at is not None
    listed = api.list_users(page=1, per_page=1000)
    assert email in [user.email for user in listed]
    assert api.get_user_by_id(created.user.id).user.user_metadata == {"team": "qa"}
    updated = api.update_user_by_id(created.user.id, {"user_metadata": {"level": 2}})
    assert updated.user.user_metadata == {"team": "qa", "level": 2}
    assert client(auth_url, env).sign_in_with_password({"email": email, "password": "admin-made"}).session
    api.delete_user(created.user.id)
    with pytest.raises(AuthApiError) as gone:
        api.get_user_by_id(created.user.id)
    assert gone.value.status == 404
    # A password hash made elsewhere (here pgcrypto, as in seed.sql) signs in.
    with psycopg.connect(env["DATABASE_URL"]) as connection:
        (made_elsewhere,) = connection.execute("select extensions.crypt('hashed-elsewhere', extensions.gen_salt('bf', 4))").fetchone()
    hashed_email = unique_email("hash")
    api.create_user({"email": hashed_email, "password_hash": made_elsewhere, "email_confirm": True})
    assert client(auth_url, env).sign_in_with_password({"email": hashed_email, "password": "hashed-elsewhere"}).session
    with pytest.raises(AuthApiError) as malformed:
        api.create_user({"email": unique_email("hash"), "password_hash": "not-bcrypt"})
    assert malformed.value.status == 400


def test_admin_routes_need_an_admin_token(auth_url, env):
    anon = env["SUPABASE_ANON_KEY"]
    response = httpx.get(f"{auth_url}/admin/users", headers={"Authorization": f"Bearer {anon}", "X-Supabase-Api-Version": "2024-01-01"})
    assert response.status_code == 403
    assert response.json() == {"code": "not_admin", "message": "User not allowed"}
    legacy = httpx.get(f"{auth_url}/admin/users", headers={"Authorization": f"Bearer {anon}"})
    assert legacy.json() == {"code": 403, "error_code": "not_admin", "msg": "User not allowed"}
    paged = httpx.get(f"{auth_url}/admin/users?page=1&per_page=1", headers={"Authorization": f"Bearer {env['SUPABASE_SERVICE_ROLE_KEY']}"})
    assert int(paged.headers["x-total-count"]) >= 2
    assert 'rel="next"' in paged.headers["link"]


def test_otp_sign_in_through_the_inbox(auth_url, env, inbox):
    sdk = client(auth_url, env)
    email = unique_email("otp")
    sdk.sign_in_with_otp({"email": email})
    messages = inbox(email)
    assert messages[-1]["type"] == "magiclink"
    code = messages[-1]["token"]
    assert len(code) == 6
    verified = sdk.verify_otp({"email": email, "token": code, "type": "email"})
    assert verified.user.email == email
    assert verified.session.access_token
    # A code works once.
    with pytest.raises(AuthApiError) as again:
        sdk.verify_otp({"email": email, "token": code, "type": "email"})
    assert again.value.code == "otp_expired"


def test_magic_link_redirects_with_a_session(auth_url, env, inbox):
    email = unique_email("link")
    client(auth_url, env).sign_in_with_otp({"email": email})
    link = inbox(email)[-1]["link"]
    response = httpx.get(link, follow_redirects=False)
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("http://127.0.0.1:3000#access_token=")
    assert "refresh_token=" in location


def test_the_token_drives_row_level_security(auth_url, env):
    """The claims of an issued token, set as request.jwt.claims under role authenticated, select the user's rows."""
    sdk = client(auth_url, env)
    mine = sdk.sign_up({"email": unique_email("rls"), "password": "rls-password"}).session
    theirs = sdk.sign_up({"email": unique_email("rls"), "password": "rls-password"}).session
    claims = json.loads(base64.urlsafe_b64decode(mine.access_token.split(".")[1] + "=="))
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as connection:
        connection.execute(
            "insert into public.conversations (user_id, mode, prompt, answer) values (%s, 'instant', 'mine', 'a'), (%s, 'instant', 'theirs', 'b')",
            (mine.user.id, theirs.user.id),
        )
        with connection.transaction():
            connection.execute("set local role authenticated")
            connection.execute("select set_config('request.jwt.claims', %s, true)", (json.dumps(claims),))
            rows = connection.execute("select prompt, user_id::text from public.conversations").fetchall()
            assert rows == [("mine", mine.user.id)]
            assert connection.execute("select auth.uid()::text, auth.role()").fetchone() == (mine.user.id, "authenticated")
        with connection.transaction():
            connection.execute("set local role authenticated")
            connection.execute("select set_config('request.jwt.claims', %s, true)", (json.dumps({"sub": str(uuid.uuid4()), "role": "authenticated"}),))
            assert connection.execute("select count(*) from public.conversations").fetchone() == (0,)
        with connection.transaction():
            connection.execute("set local role service_role")
            assert connection.execute("select count(*) from public.conversations").fetchone()[0] >= 2


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _forge(header: dict, payload: dict, secret: bytes | None, signature: str | None = None) -> str:
    signing_input = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(payload).encode())
    if signature is None:
        signature = _b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()) if secret else ""
    return signing_input + "." + signature


def test_forged_tokens_are_all_rejected(stack, auth_url, env):
    sdk = client(auth_url, env)
    session = sdk.sign_up({"email": unique_email("forged"), "password": "forged-pass"}).session
    real = session.access_token
    header_b64, payload_b64, signature_b64 = real.split(".")
    payload = json.loads(base64.urlsafe_b64decode(payload_b64 + "=="))
    now = int(time.time())
    wrong_secret = b"not-the-stack-secret-not-the-stack-secret"
    tampered_payload = dict(payload, sub=str(uuid.uuid4()))
    corpus = {
        "alg none": _forge({"alg": "none", "typ": "JWT"}, payload, None),
        "alg none with signature": _forge({"alg": "none", "typ": "JWT"}, payload, None, signature_b64),
        "wrong secret": _forge({"alg": "HS256", "typ": "JWT"}, payload, wrong_secret),
        "expired": _forge({"alg": "HS256", "typ": "JWT"}, dict(payload, exp=now - 60, iat=now - 3660), wrong_secret),
        "tampered payload": header_b64 + "." + _b64(json.dumps(tampered_payload).encode()) + "." + signature_b64,
        "tampered role": header_b64 + "." + _b64(json.dumps(dict(payload, role="service_role")).encode()) + "." + signature_b64,
        "HS512 header": _forge({"alg": "HS512", "typ": "JWT"}, payload, None, signature_b64),
        "RS256 header": _forge({"alg": "RS256", "typ": "JWT"}, payload, None, signature_b64),
        "truncated signature": real[:-5],
        "no signature": header_b64 + "." + payload_b64 + ".",
        "two parts": header_b64 + "." + payload_b64,
        "garbage": "not-a-jwt",
        "empty payload": header_b64 + ".." + signature_b64,
        "json payload not base64": header_b64 + ".{\"sub\":\"x\"}." + signature_b64,
    }
    # Signed with the real secret but for another audience: valid signature, wrong audience.
    secret = stack.service_env("gateway")["SUPABASE_JWT_SECRET"]
    corpus["wrong audience"] = _forge({"alg": "HS256", "typ": "JWT"}, dict(payload, aud="someone-else"), secret.encode())
    corpus["expired, real secret"] = _forge({"alg": "HS256", "typ": "JWT"}, dict(payload, exp=now - 1), secret.encode())
    # Signed with the real secret, HMAC-SHA256, under a header that names another algorithm (or none):
    # only the configured algorithm is accepted.
    for alg in ("RS256", "ES256", "none", "XYZ", "hs256", "HS512", ""):
        corpus[f"real secret, alg {alg!r}"] = _forge({"alg": alg, "typ": "JWT"}, payload, secret.encode())
    corpus["real secret, no alg"] = _forge({"typ": "JWT"}, payload, secret.encode())
    # The same forger with the real secret and real claims makes a token that works: the forger is sound.
    assert httpx.get(f"{auth_url}/user", headers={"Authorization": f"Bearer {_forge({'alg': 'HS256', 'typ': 'JWT'}, payload, secret.encode())}"}).status_code == 200
    for name, token in corpus.items():
        response = httpx.get(f"{auth_url}/user", headers={"Authorization": f"Bearer {token}", "X-Supabase-Api-Version": "2024-01-01"})
        assert response.status_code in (401, 403), f"{name}: {response.status_code} {response.text}"
        assert response.json()["code"] == "bad_jwt", f"{name}: {response.text}"
        admin_response = httpx.get(f"{auth_url}/admin/users", headers={"Authorization": f"Bearer {token}"})
        assert admin_response.status_code in (401, 403), f"{name} (admin): {admin_response.status_code}"
    # The real token still works, so the rejections were about the forgeries.
    assert httpx.get(f"{auth_url}/user", headers={"Authorization": f"Bearer {real}"}).status_code == 200


def test_malformed_bodies_get_400_in_the_error_shape(auth_url):
    for body in ["{", "[]", '"text"', '{"email": 5, "password": "x"}']:
        response = httpx.post(f"{auth_url}/token?grant_type=password", content=body, headers={"content-type": "application/json"})
        assert response.status_code == 400, body
        assert response.json()["error_code"] in ("bad_json", "validation_failed")
    unknown = httpx.post(f"{auth_url}/token?grant_type=magic")
    assert unknown.status_code == 400
