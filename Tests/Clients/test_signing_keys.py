"""Asymmetric signing keys: tokens with a kid, the JWKS, `get_claims` verifying locally through it, the
gateway verifying through it, key rotation, and the kid tricks a forger would try."""

import base64
import hashlib
import hmac
import json
import uuid

import httpx
import pytest
from supabase_auth import SyncGoTrueClient
from supabase_auth.errors import AuthApiError


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _part(token: str, index: int) -> dict:
    part = token.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def _client(env) -> SyncGoTrueClient:
    anon = env["SUPABASE_ANON_KEY"]
    return SyncGoTrueClient(
        url=env["SUPABASE_URL"] + "/auth/v1", headers={"apikey": anon, "Authorization": f"Bearer {anon}"},
        auto_refresh_token=False, persist_session=False,
    )


def _jwks(env) -> list:
    return httpx.get(env["SUPABASE_URL"] + "/auth/v1/.well-known/jwks.json").json()["keys"]


def _signed_up(env):
    sdk = _client(env)
    session = sdk.sign_up({"email": f"keys-{uuid.uuid4().hex[:10]}@example.com", "password": "keys-password"}).session
    return sdk, session


def _user_status(env, token: str) -> int:
    return httpx.get(env["SUPABASE_URL"] + "/auth/v1/user", headers={"Authorization": f"Bearer {token}"}).status_code


def _gateway_status(env, token: str) -> int:
    return httpx.get(env["GATEWAY_URL"] + "/v1/conversations", headers={"Authorization": f"Bearer {token}"}).status_code


def test_rs256_tokens_carry_a_kid_that_get_claims_finds_in_the_jwks(rs256_stack):
    env = rs256_stack.env
    sdk, session = _signed_up(env)
    header = _part(session.access_token, 0)
    assert header["alg"] == "RS256" and header["kid"]
    keys = _jwks(env)
    assert [(key["kid"], key["kty"], key["alg"]) for key in keys] == [(header["kid"], "RSA", "RS256")]
    assert "d" not in keys[0], "only the public half is published"
    claims = sdk.get_claims()
    assert claims["claims"]["sub"] == session.user.id
    assert claims["headers"]["kid"] == header["kid"]


def test_es256_end_to_end_with_the_gateway_rotation_and_kid_tricks(es256_stack):
    env = es256_stack.env
    sdk, session = _signed_up(env)
    old = session.access_token
    header = _part(old, 0)
    assert header["alg"] == "ES256"
    assert [key["kty"] for key in _jwks(env)] == ["EC"]
    assert sdk.get_claims()["claims"]["sub"] == session.user.id
    assert _user_status(env, old) == 200
    assert _gateway_status(env, old) == 200, "the gateway verifies through the JWKS"

    payload = _part(old, 1)
    signature = old.rsplit(".", 1)[1]

    def forged(header: dict, secret: bytes | None = None) -> str:
        head = _b64(json.dumps(header).encode()) + "." + old.split(".")[1]
        if secret is None:
            return head + "." + signature
        return head + "." + _b64(hmac.new(secret, head.encode(), hashlib.sha256).digest())

    public = _jwks(env)[0]
    service_secret = es256_stack.service_env("gateway")["SUPABASE_JWT_SECRET"].encode()
    corpus = {
        "unknown kid": forged(dict(header, kid=str(uuid.uuid4()))),
        "no kid": forged({"alg": "ES256", "typ": "JWT"}),
        "ES256 kid under RS256": forged(dict(header, alg="RS256")),
        # Key confusion: HMAC keyed with the published key's material, naming that key.
        "HS256 with the public key as secret": forged(dict(header, alg="HS256"), json.dumps(public).encode()),
        "HS256 with the x coordinate as secret": forged(dict(header, alg="HS256"), public["x"].encode()),
        # The stack's real secret, but naming the asymmetric key: refused, not checked against the secret.
        "HS256 with the real secret and an ES256 kid": forged(dict(header, alg="HS256"), service_secret),
        "tampered claims": _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(dict(payload, role="service_role")).encode())
        + "." + signature,
    }
    for name, token in corpus.items():
        assert _user_status(env, token) in (401, 403), name
        assert _gateway_status(env, token) == 401, name

    rotated = es256_stack.devstack("auth", "rotate-keys")
    assert "signs with key" in rotated.stdout and "restarted auth" in rotated.stdout, rotated.stdout + rotated.stderr
    keys = _jwks(env)
    assert len(keys) == 2 and header["kid"] in [key["kid"] for key in keys], "the old key stays published"
    _, fresh = _signed_up(env)
    new_kid = _part(fresh.access_token, 0)["kid"]
    assert new_kid != header["kid"] and new_kid in [key["kid"] for key in keys]
    for token in (old, fresh.access_token):
        assert _user_status(env, token) == 200
        assert _gateway_status(env, token) == 200
    assert _client(env).get_claims(fresh.access_token)["claims"]["sub"] == fresh.user.id


def test_rotate_keys_explains_when_the_stack_signs_with_its_secret(stack):
    refused = stack.devstack("auth", "rotate-keys", check=False)
    assert refused.returncode != 0
    assert "signing_keys: RS256" in refused.stderr


def test_hs256_stack_publishes_no_keys_and_get_claims_falls_back_to_the_server(auth_url, env):
    assert _jwks(env) == []
    sdk = SyncGoTrueClient(
        url=auth_url, headers={"apikey": env["SUPABASE_ANON_KEY"], "Authorization": f"Bearer {env['SUPABASE_ANON_KEY']}"},
        auto_refresh_token=False, persist_session=False,
    )
    session = sdk.sign_up({"email": f"hs-{uuid.uuid4().hex[:10]}@example.com", "password": "hs-password"}).session
    assert "kid" not in _part(session.access_token, 0)
    assert sdk.get_claims()["claims"]["sub"] == session.user.id
    with pytest.raises(AuthApiError):
        sdk.get_claims(session.access_token[:-4] + "abcd")


def test_an_auth_service_with_its_own_secret_takes_its_keys_and_not_the_stacks(own_secret_stack):
    env = own_secret_stack.env
    plan = json.loads(own_secret_stack.devstack("config", "--json", "--show-secrets").stdout)
    stack_secret = plan["secrets"]["jwt_secret"]
    own_secret = plan["secrets"]["auth.jwt_secret"]
    assert own_secret != stack_secret
    service_key = env["SUPABASE_SERVICE_ROLE_KEY"]
    admin = httpx.get(env["SUPABASE_URL"] + "/auth/v1/admin/users", headers={"Authorization": f"Bearer {service_key}"})
    assert admin.status_code == 200, "the wired service key is signed with the service's own secret"

    def sign(secret: str) -> str:
        head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + _b64(json.dumps({"role": "service_role"}).encode())
        return head + "." + _b64(hmac.new(secret.encode(), head.encode(), hashlib.sha256).digest())

    refused = httpx.get(env["SUPABASE_URL"] + "/auth/v1/admin/users", headers={"Authorization": f"Bearer {sign(stack_secret)}"})
    assert refused.status_code == 403 and refused.json()["error_code"] == "bad_jwt", "the stack's secret is not this service's"
    accepted = httpx.get(env["SUPABASE_URL"] + "/auth/v1/admin/users", headers={"Authorization": f"Bearer {sign(own_secret)}"})
    assert accepted.status_code == 200
    _, session = _signed_up(env)
    assert "kid" not in _part(session.access_token, 0)
