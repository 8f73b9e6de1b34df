"""Passkeys on the real gateway: a software authenticator (a real P-256 key, the
WebAuthn wire format byte for byte) registers and signs in; the server refuses
what a phishing page, a replay, a device without user verification or another
person would send."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from typing import Any
from uuid import uuid4

import cbor2
import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from gateway_kit import Harness, Person, expect, find_message
from sqlmodel import col

from hospeda.contracts.audit import AuditRecord
from hospeda.contracts.identity import CompanyRole
from hospeda.gateway.deps import Collaborators
from hospeda.gateway.models import User

ORIGIN = "http://localhost:8000"  # the default origin: the default public URL
RP_ID = "localhost"
UP, UV, AT = 0x01, 0x04, 0x40


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SoftAuthenticator:
    """A platform authenticator in software: one discoverable credential."""

    def __init__(self, *, user_verified: bool = True) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)
        self.sign_count = 0
        self.user_verified = user_verified
        self.user_handle: bytes | None = None

    def _flags(self, *extra: int) -> int:
        flags = UP | (UV if self.user_verified else 0)
        for flag in extra:
            flags |= flag
        return flags

    @staticmethod
    def _client_data(kind: str, challenge: str, origin: str) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False}
        ).encode()

    def create(
        self, options: dict[str, Any], *, origin: str = ORIGIN, challenge: str | None = None
    ) -> dict[str, Any]:
        public = options["publicKey"]
        assert public["authenticatorSelection"]["residentKey"] == "required"
        assert public["authenticatorSelection"]["userVerification"] == "required"
        self.user_handle = unb64(public["user"]["id"])
        numbers = self.key.public_key().public_numbers()
        cose = {1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32), -3: numbers.y.to_bytes(32)}
        attested = (
            bytes(16) + len(self.credential_id).to_bytes(2) + self.credential_id + cbor2.dumps(cose)
        )
        auth_data = (
            hashlib.sha256(public["rp"]["id"].encode()).digest()
            + bytes([self._flags(AT)])
            + self.sign_count.to_bytes(4)
            + attested
        )
        client_data = self._client_data("webauthn.create", challenge or public["challenge"], origin)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "id": b64(self.credential_id),
            "rawId": b64(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(client_data),
                "attestationObject": b64(attestation),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
        }

    def get(
        self,
        options: dict[str, Any],
        *,
        origin: str = ORIGIN,
        user_handle: bytes | None = None,
    ) -> dict[str, Any]:
        public = options["publicKey"]
        assert public["userVerification"] == "required"
        assert public.get("allowCredentials", []) == []  # discoverable: no e-mail asked first
        self.sign_count += 1
        auth_data = (
            hashlib.sha256(public["rpId"].encode()).digest()
            + bytes([self._flags()])
            + self.sign_count.to_bytes(4)
        )
        client_data = self._client_data("webauthn.get", public["challenge"], origin)
        signature = self.key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        handle = user_handle if user_handle is not None else self.user_handle
        assert handle is not None
        return {
            "id": b64(self.credential_id),
            "rawId": b64(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(client_data),
                "authenticatorData": b64(auth_data),
                "signature": b64(signature),
                "userHandle": b64(handle),
            },
            "clientExtensionResults": {},
        }


async def add_passkey(
    person: Person, device: SoftAuthenticator, name: str | None = "Celular"
) -> dict[str, Any]:
    options = expect(await person.browser.post("/api/v1/me/passkeys/options"), 200)
    body: dict[str, Any] = {"credential": device.create(options)}
    if name is not None:
        body["name"] = name
    return expect(await person.browser.post("/api/v1/me/passkeys", json=body), 201)


async def passkey_login(harness: Harness, device: SoftAuthenticator, **get: Any) -> Any:
    browser = harness.browser()
    options = expect(await browser.get("/api/v1/auth/passkeys/login/options"), 200)
    credential = device.get(options, **get)
    return (
        browser,
        credential,
        await browser.post("/api/v1/auth/passkeys/login", json={"credential": credential}),
    )


async def test_a_passkey_signs_in_with_the_same_session_as_a_password(harness: Harness) -> None:
    maria = await harness.sign_up()
    device = SoftAuthenticator()
    added = await add_passkey(maria, device, name="Celular da Maria")
    assert added["name"] == "Celular da Maria" and added["last_used_at"] is None

    browser, _, answer = await passkey_login(harness, device)
    session = expect(answer, 200)
    assert session["user_id"] == str(maria.user_id)
    assert session["company_id"] == str(maria.company_id)
    assert session["mfa_required"] is False
    assert browser.session_id and browser.csrf == session["csrf_token"]
    me = expect(await browser.get("/api/v1/me"), 200)
    assert me["email"] == maria.email

    listed = expect(await browser.get("/api/v1/me/passkeys"), 200)
    assert listed["has_password"] is True
    assert [p["name"] for p in listed["items"]] == ["Celular da Maria"]
    assert listed["items"][0]["last_used_at"] is not None

    record = await find_message(
        harness.bootstrap,
        "audit.records.v1",
        lambda m: (
            isinstance(m.payload, AuditRecord)
            and m.payload.action == "user.login"
            and m.actor.id == str(maria.user_id)
            and (m.payload.after or {}).get("method") == "passkey"
        ),
        what="the passkey sign-in's audit record",
    )
    assert record.company_id == maria.company_id

    # the password still works alongside (the recovery path)
    await harness.login(maria)


async def test_a_passkey_sign_in_ends_the_session_the_browser_had(harness: Harness) -> None:
    maria = await harness.sign_up()
    device = SoftAuthenticator()
    await add_passkey(maria, device)
    old = maria.browser.session_id
    assert old is not None
    options = expect(await maria.browser.get("/api/v1/auth/passkeys/login/options"), 200)
    expect(
        await maria.browser.post(
            "/api/v1/auth/passkeys/login", json={"credential": device.get(options)}
        ),
        200,
    )
    assert maria.browser.session_id != old
    assert await harness.session_ttl(old) == -2


async def test_two_factor_is_not_asked_again_after_a_passkey(harness: Harness) -> None:
    maria = await harness.sign_up()
    await harness.enable_2fa(maria)
    device = SoftAuthenticator()
    await add_passkey(maria, device)
    _, _, answer = await passkey_login(harness, device)
    assert expect(answer, 200)["mfa_required"] is False


async def test_a_challenge_works_once(harness: Harness) -> None:
    maria = await harness.sign_up()
    device = SoftAuthenticator()
    options = expect(await maria.browser.post("/api/v1/me/passkeys/options"), 200)
    credential = device.create(options)
    expect(await maria.browser.post("/api/v1/me/passkeys", json={"credential": credential}), 201)
    replay = await maria.browser.post("/api/v1/me/passkeys", json={"credential": credential})
    assert expect(replay, 400)["code"] == "passkey_challenge"

    browser, credential, answer = await passkey_login(harness, device)
    expect(answer, 200)
    again = await browser.post("/api/v1/auth/passkeys/login", json={"credential": credential})
    assert expect(again, 400)["code"] == "passkey_challenge"


async def test_a_challenge_the_server_never_gave_is_refused(harness: Harness) -> None:
    maria = await harness.sign_up()
    device = SoftAuthenticator()
    options = expect(await maria.browser.post("/api/v1/me/passkeys/options"), 200)
    forged = device.create(options, challenge=b64(os.urandom(32)))
    answer = await maria.browser.post("/api/v1/me/passkeys", json={"credential": forged})
    assert expect(answer, 400)["code"] == "passkey_challenge"
    assert expect(await maria.browser.get("/api/v1/me/passkeys"), 200)["items"] == []

    await add_passkey(maria, device)
    browser = harness.browser()
    options = expect(await browser.get("/api/v1/auth/passkeys/login/options"), 200)
    options["publicKey"]["challenge"] = b64(os.urandom(32))
    answer = await browser.post(
        "/api/v1/auth/passkeys/login", json={"credential": device.get(options)}
    )
    assert expect(answer, 400)["code"] == "passkey_challenge"
    assert browser.session_id is None


async def test_another_sites_origin_is_refused(harness: Harness) -> None:
    maria = await harness.sign_up()
    device = SoftAuthenticator()
    options = expect(await maria.browser.post("/api/v1/me/passkeys/options"), 200)
    phished = device.create(options, origin="https://hospeda-login.example")
    answer = await maria.browser.post("/api/v1/me/passkeys", json={"credential": phished})
    assert expect(answer, 400)["code"] == "passkey_invalid"

    await add_passkey(maria, device)
    browser, _, answer = await passkey_login(harness, device, origin="https://evil.example")
    assert expect(answer, 401)["code"] == "passkey_refused"
    assert browser.session_id is None


async def test_without_user_verification_the_server_refuses(harness: Harness) -> None:
    maria = await harness.sign_up()
    careless = SoftAuthenticator(user_verified=False)
    options = expect(await maria.browser.post("/api/v1/me/passkeys/options"), 200)
    answer = await maria.browser.post(
        "/api/v1/me/passkeys", json={"credential": careless.create(options)}
    )
    assert expect(answer, 400)["code"] == "passkey_invalid"

    device = SoftAuthenticator()
    await add_passkey(maria, device)
    device.user_verified = False  # the same key, unlocked without biometrics or PIN
    browser, _, answer = await passkey_login(harness, device)
    assert expect(answer, 401)["code"] == "passkey_refused"
    assert browser.session_id is None


async def test_another_persons_credential_or_challenge_is_refused(harness: Harness) -> None:
    maria = await harness.sign_up()
    joao = await harness.sign_up(company="Oficina do João")
    device = SoftAuthenticator()
    await add_passkey(maria, device)

    # the same credential id registered again under João
    options = expect(await joao.browser.post("/api/v1/me/passkeys/options"), 200)
    answer = await joao.browser.post(
        "/api/v1/me/passkeys", json={"credential": device.create(options)}
    )
    assert expect(answer, 409)["code"] == "passkey_exists"

    # Maria's key, presented as João's account (user handle)
    _, _, answer = await passkey_login(harness, device, user_handle=joao.user_id.bytes)
    assert expect(answer, 401)["code"] == "passkey_refused"

    # a registration challenge issued to Maria, answered in João's session
    options = expect(await maria.browser.post("/api/v1/me/passkeys/options"), 200)
    other = SoftAuthenticator()
    answer = await joao.browser.post(
        "/api/v1/me/passkeys", json={"credential": other.create(options)}
    )
    assert expect(answer, 400)["code"] == "passkey_challenge"


async def test_only_the_person_renames_or_removes_their_passkeys(harness: Harness) -> None:
    maria = await harness.sign_up()
    admin = await harness.invite(maria, CompanyRole.ADMIN)
    stranger = await harness.sign_up(company="Outra Empresa")
    mine = await add_passkey(maria, SoftAuthenticator(), name="Notebook")
    url = f"/api/v1/me/passkeys/{mine['id']}"

    for other in (admin, stranger):  # same company or not: a passkey is one person's
        assert expect(await other.browser.get("/api/v1/me/passkeys"), 200)["items"] == []
        answer = await other.browser.patch(url, json={"name": "meu"})
        assert expect(answer, 404)["code"] == "not_found"
        assert expect(await other.browser.delete(url), 404)["code"] == "not_found"

    anonymous = harness.browser()
    assert (await anonymous.get("/api/v1/me/passkeys")).status_code == 401
    assert (await anonymous.post("/api/v1/me/passkeys/options")).status_code == 401
    no_csrf = await maria.browser.request("PATCH", url, json={"name": "x"}, csrf=False)
    assert expect(no_csrf, 403)["code"] == "csrf_failed"

    token = expect(
        await maria.browser.post(
            "/api/v1/company/tokens", json={"name": "ERP", "permissions": ["company:read"]}
        ),
        201,
    )["token"]
    partner = harness.browser(token=token)
    answer = await partner.get("/api/v1/me/passkeys")
    assert expect(answer, 403)["code"] == "token_not_allowed"

    renamed = expect(
        await maria.browser.patch(url, json={"name": "  Notebook do escritório "}), 200
    )
    assert renamed["name"] == "Notebook do escritório"
    expect(await maria.browser.delete(url), 200)
    assert expect(await maria.browser.get("/api/v1/me/passkeys"), 200)["items"] == []
    assert expect(await maria.browser.delete(url), 404)["code"] == "not_found"


async def test_a_removed_passkey_no_longer_signs_in(harness: Harness) -> None:
    maria = await harness.sign_up()
    device = SoftAuthenticator()
    added = await add_passkey(maria, device)
    expect(await maria.browser.delete(f"/api/v1/me/passkeys/{added['id']}"), 200)
    _, _, answer = await passkey_login(harness, device)
    assert expect(answer, 401)["code"] == "passkey_refused"


async def test_several_passkeys_and_the_last_one_stays_without_a_password(
    harness: Harness,
) -> None:
    maria = await harness.sign_up()
    phone, laptop = SoftAuthenticator(), SoftAuthenticator()
    first = await add_passkey(maria, phone, name=None)
    second = await add_passkey(maria, laptop, name=None)
    assert [first["name"], second["name"]] == ["Chave de acesso 1", "Chave de acesso 2"]
    for device in (phone, laptop):
        _, _, answer = await passkey_login(harness, device)
        expect(answer, 200)

    async def drop_password(gateway: Collaborators) -> None:
        async with gateway.runtime.db.transaction() as db:
            # typed, so the id is bound as each database stores it
            await db.execute(
                sa.update(User).where(col(User.id) == maria.user_id).values(password_hash="")
            )

    await harness.server.call(drop_password)  # e.g. an account made with a passkey only
    expect(await maria.browser.delete(f"/api/v1/me/passkeys/{first['id']}"), 200)
    answer = await maria.browser.delete(f"/api/v1/me/passkeys/{second['id']}")
    assert expect(answer, 409)["code"] == "last_passkey"
    listed = expect(await maria.browser.get("/api/v1/me/passkeys"), 200)
    assert listed["has_password"] is False and len(listed["items"]) == 1


async def test_nonsense_credentials_are_a_client_error(harness: Harness) -> None:
    maria = await harness.sign_up()
    for credential in ({}, {"id": "x", "response": {"clientDataJSON": "bm90LWpzb24"}}, {"a": 1}):
        answer = await maria.browser.post("/api/v1/me/passkeys", json={"credential": credential})
        assert answer.status_code == 400, answer.text
        answer = await harness.browser().post(
            "/api/v1/auth/passkeys/login", json={"credential": credential}
        )
        assert answer.status_code in (400, 401), answer.text
    unknown = f"/api/v1/me/passkeys/{uuid4()}"
    assert expect(await maria.browser.delete(unknown), 404)["code"] == "not_found"
