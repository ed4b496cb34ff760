"""MFA, PKCE and hand-signed service tokens with the official `supabase-auth` client, sync and async."""

import asyncio
import base64
import hashlib
import hmac
import json
import re
import struct
import time
import urllib.parse
import uuid

import httpx
import numpy
import pytest
import zxingcpp
from supabase_auth import AsyncGoTrueClient, SyncGoTrueAdminAPI, SyncGoTrueClient
from supabase_auth.errors import AuthApiError


def _headers(env) -> dict:
    anon = env["SUPABASE_ANON_KEY"]
    return {"apikey": anon, "Authorization": f"Bearer {anon}"}


def _email(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@example.com"


def totp(secret: str, at: float | None = None) -> str:
    """RFC 6238 as an authenticator app computes it, written here independently of the emulator."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    counter = struct.pack(">Q", int((time.time() if at is None else at) // 30))
    mac = hmac.new(key, counter, hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    return f"{(struct.unpack('>I', mac[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


def read_qr(data_uri: str) -> str:
    """Draws the SVG's unit squares into a bitmap and reads it with ZXing."""
    prefix = "data:image/svg+xml;utf-8,"
    assert data_uri.startswith(prefix)
    svg = data_uri[len(prefix):]
    extent = int(re.search(r'viewBox="0 0 (\d+) (\d+)"', svg).group(1))
    scale = 6
    image = numpy.full((extent * scale, extent * scale), 255, dtype=numpy.uint8)
    dark = re.findall(r'<path fill="black" d="([^"]*)"', svg)[0]
    for x, y in re.findall(r"M(\d+) (\d+)h1v1h-1z", dark):
        image[int(y) * scale:(int(y) + 1) * scale, int(x) * scale:(int(x) + 1) * scale] = 0
    found = zxingcpp.read_barcodes(image)
    assert found, "no QR code found in the SVG"
    return found[0].text


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _sign(payload: dict, secret: str) -> str:
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + b64(json.dumps(payload).encode())
    return signing_input + "." + b64(hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest())


def test_admin_calls_with_a_service_token_that_has_no_exp(stack, auth_url):
    secret = stack.service_env("gateway")["SUPABASE_JWT_SECRET"]
    token = _sign({"role": "service_role"}, secret)
    admin = SyncGoTrueAdminAPI(url=auth_url, headers={"apikey": token, "Authorization": f"Bearer {token}"})
    email = _email("noexp")
    created = admin.create_user({"email": email, "password": "no-exp-password", "email_confirm": True})
    assert created.user.email == email
    assert any(user.email == email for user in admin.list_users(page=1, per_page=1000))
    # An exp in the past is still refused.
    expired = _sign({"role": "service_role", "exp": int(time.time()) - 5}, secret)
    response = httpx.get(f"{auth_url}/admin/users", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 403 and response.json()["error_code"] == "bad_jwt"
    admin.delete_user(created.user.id)


def test_totp_enroll_read_the_qr_code_verify_and_unenroll(auth_url, env):
    sdk = SyncGoTrueClient(url=auth_url, headers=_headers(env), auto_refresh_token=False, persist_session=False)
    email = _email("totp")
    sdk.sign_up({"email": email, "password": "totp-password"})
    enrolled = sdk.mfa.enroll({"factor_type": "totp", "friendly_name": "laptop", "issuer": "devstack-tests"})
    uri = enrolled.totp.uri
    assert uri.startswith("otpauth://totp/devstack-tests:") and f"secret={enrolled.totp.secret}" in uri
    assert read_qr(enrolled.totp.qr_code) == uri
    assert sdk.mfa.get_authenticator_assurance_level().current_level == "aal1"
    code = totp(enrolled.totp.secret)
    sdk.mfa.challenge_and_verify({"factor_id": enrolled.id, "code": code})
    level = sdk.mfa.get_authenticator_assurance_level()
    assert level.current_level == "aal2" and level.next_level == "aal2"
    assert {entry.method for entry in level.current_authentication_methods} == {"password", "totp"}
    assert [factor.id for factor in sdk.mfa.list_factors().totp] == [enrolled.id]
    # The same code a second time is refused.
    with pytest.raises(AuthApiError) as reused:
        sdk.mfa.challenge_and_verify({"factor_id": enrolled.id, "code": code})
    assert reused.value.code == "mfa_verification_failed"
    # The session stays aal2 across a refresh.
    refreshed = sdk.refresh_session()
    assert _claims(refreshed.session.access_token)["aal"] == "aal2"
    sdk.mfa.unenroll({"factor_id": enrolled.id})
    assert sdk.mfa.list_factors().all == []
    with pytest.raises(AuthApiError) as missing:
        sdk.mfa.challenge({"factor_id": enrolled.id})
    assert missing.value.code == "mfa_factor_not_found"


def test_totp_with_the_async_client(auth_url, env):
    async def flow():
        sdk = AsyncGoTrueClient(url=auth_url, headers=_headers(env), auto_refresh_token=False, persist_session=False)
        await sdk.sign_up({"email": _email("async-totp"), "password": "totp-password"})
        enrolled = await sdk.mfa.enroll({"factor_type": "totp"})
        challenge = await sdk.mfa.challenge({"factor_id": enrolled.id})
        wrong = "000000" if totp(enrolled.totp.secret) != "000000" else "111111"
        with pytest.raises(AuthApiError) as refused:
            await sdk.mfa.verify({"factor_id": enrolled.id, "challenge_id": challenge.id, "code": wrong})
        assert refused.value.code == "mfa_verification_failed"
        await sdk.mfa.verify({"factor_id": enrolled.id, "challenge_id": challenge.id, "code": totp(enrolled.totp.secret)})
        return (await sdk.mfa.get_authenticator_assurance_level()).current_level

    assert asyncio.run(flow()) == "aal2"


def test_pkce_magic_link_exchanges_its_code_for_a_session(auth_url, env, inbox):
    sdk = SyncGoTrueClient(url=auth_url, headers=_headers(env), auto_refresh_token=False, persist_session=False, flow_type="pkce")
    email = _email("pkce")
    sdk.sign_in_with_otp({"email": email})
    link = inbox(email)[-1]["link"]
    assert "token=pkce_" in link
    response = httpx.get(link, follow_redirects=False)
    assert response.status_code == 303
    location = urllib.parse.urlparse(response.headers["location"])
    assert not location.fragment, "a PKCE link carries a code, not a session"
    code = urllib.parse.parse_qs(location.query)["code"][0]
    signed_in = sdk.exchange_code_for_session({"auth_code": code})
    assert signed_in.user.email == email
    assert sdk.get_user().user.email == email
    # A code is exchanged once.
    with pytest.raises(AuthApiError) as again:
        sdk.exchange_code_for_session({"auth_code": code, "code_verifier": "x" * 43})
    assert again.value.code == "flow_state_not_found"


def test_pkce_password_recovery_with_the_async_client(auth_url, env, inbox):
    email = _email("pkce-recover")

    async def flow():
        sdk = AsyncGoTrueClient(url=auth_url, headers=_headers(env), auto_refresh_token=False, persist_session=False, flow_type="pkce")
        await sdk.sign_up({"email": email, "password": "before-recovery"})
        await sdk.reset_password_for_email(email)
        link = inbox(email)[-1]["link"]
        async with httpx.AsyncClient() as http:
            response = await http.get(link, follow_redirects=False)
        code = urllib.parse.parse_qs(urllib.parse.urlparse(response.headers["location"]).query)["code"][0]
        recovered = await sdk.exchange_code_for_session({"auth_code": code})
        await sdk.update_user({"password": "after-recovery"})
        return recovered

    recovered = asyncio.run(flow())
    assert recovered.user.email == email
    assert _claims(recovered.session.access_token)["amr"][0]["method"] == "recovery"
    again = SyncGoTrueClient(url=auth_url, headers=_headers(env), auto_refresh_token=False, persist_session=False)
    assert again.sign_in_with_password({"email": email, "password": "after-recovery"}).user.email == email


def test_sso_answers_that_saml_is_disabled(auth_url, env):
    sdk = SyncGoTrueClient(url=auth_url, headers=_headers(env), auto_refresh_token=False, persist_session=False)
    with pytest.raises(AuthApiError) as refused:
        sdk.sign_in_with_sso({"domain": "example.com"})
    assert refused.value.code == "sso_provider_not_found"
    assert refused.value.message == "SAML 2.0 is disabled"


def test_verify_checks_the_phone_format_before_the_code(auth_url, env):
    sdk = SyncGoTrueClient(url=auth_url, headers=_headers(env), auto_refresh_token=False, persist_session=False)
    with pytest.raises(AuthApiError) as refused:
        sdk.verify_otp({"phone": "12345", "token": "123456", "type": "sms"})
    assert refused.value.code == "validation_failed"
    assert refused.value.message == "Invalid phone number format (E.164 required)"


def test_reauthenticate_sends_a_nonce_that_a_password_change_accepts(auth_url, env, inbox):
    sdk = SyncGoTrueClient(url=auth_url, headers=_headers(env), auto_refresh_token=False, persist_session=False)
    email = _email("reauth")
    sdk.sign_up({"email": email, "password": "before-nonce"})
    sdk.reauthenticate()
    message = inbox(email)[-1]
    assert message["type"] == "reauthentication" and len(message["token"]) == 6 and message.get("link") is None
    sdk.update_user({"password": "after-nonce", "nonce": message["token"]})
    assert sdk.sign_in_with_password({"email": email, "password": "after-nonce"}).user.email == email


def test_generate_link_keeps_the_email_change_type_it_was_asked_for(auth_url, env):
    key = env["SUPABASE_SERVICE_ROLE_KEY"]
    admin = SyncGoTrueAdminAPI(url=auth_url, headers={"apikey": key, "Authorization": f"Bearer {key}"})
    email = _email("change")
    admin.create_user({"email": email, "password": "change-password", "email_confirm": True})
    for kind in ("email_change_current", "email_change_new"):
        link = admin.generate_link({"type": kind, "email": email, "new_email": _email("new")})
        assert link.properties.verification_type == kind


def test_invite_and_admin_paging_as_gotrue(auth_url, env, inbox):
    key = env["SUPABASE_SERVICE_ROLE_KEY"]
    admin = SyncGoTrueAdminAPI(url=auth_url, headers={"apikey": key, "Authorization": f"Bearer {key}"})
    email = _email("invited")
    invited = admin.invite_user_by_email(email, {"data": {"team": "blue"}})
    assert invited.user.email == email and invited.user.invited_at and invited.user.email_confirmed_at is None
    message = inbox(email)[-1]
    assert message["type"] == "invite"
    landed = httpx.get(message["link"], follow_redirects=False)
    fragment = urllib.parse.parse_qs(urllib.parse.urlparse(landed.headers["location"]).fragment)
    assert fragment["type"] == ["invite"] and fragment["access_token"]
    with pytest.raises(AuthApiError) as again:
        admin.invite_user_by_email(email)
    assert again.value.code == "email_exists"
    first = httpx.get(f"{auth_url}/admin/users?page=1&per_page=2", headers={"Authorization": f"Bearer {key}"})
    total = int(first.headers["x-total-count"])
    assert total >= 3 and len(first.json()["users"]) == 2
    last = (total + 1) // 2
    assert f'page={last}&per_page=2>; rel="last"' in first.headers["link"] and 'rel="next"' in first.headers["link"]
    pages = [admin.list_users(page=page, per_page=2) for page in range(1, last + 1)]
    ids = [user.id for page in pages for user in page]
    assert len(ids) == total == len(set(ids)), "every user once across the pages"
