"""Passkeys ("biometria ou bloqueio de tela"): WebAuthn credentials a person adds,
names, removes, and signs in with.

- Discoverable credentials with user verification required: the device holds the
  key, the person unlocks it with a fingerprint, face or the screen lock, and the
  browser can offer it in the e-mail field (conditional mediation) with no e-mail typed.
- Each ceremony's challenge lives in Redis for a few minutes and is taken once
  (``GETDEL``): a replayed answer finds no challenge.
- A passkey sign-in opens the same session a password sign-in does (new id, the
  browser's old one ends) and is audited as ``user.login`` with the method. A
  verified passkey is two factors in one (the device and the person's
  biometrics or PIN), so it does not ask for the TOTP code.
- Recovery: the password (and TOTP or a recovery code) keep working; the last
  passkey can only be removed while the account has a password.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import redis.asyncio as redis
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    base64url_to_bytes,
    bytes_to_base64url,
    options_to_json_dict,
    parse_authentication_credential_json,
    parse_client_data_json,
    parse_registration_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from hospeda.contracts import Actor, ActorKind, new_id
from hospeda.gateway import repository
from hospeda.gateway.domain import Refused
from hospeda.gateway.models import Passkey
from hospeda.gateway.outgoing import Origin, audit
from hospeda.gateway.security import digest
from hospeda.gateway.service.core import IdentityCore, IdentityParts, locked_user
from hospeda.gateway.sessions import Session

CHALLENGE_PREFIX = "hospeda:webauthn:"
MAX_PASSKEYS = 20
RP_NAME = "Hospeda"


class Challenges:
    """Single-use ceremony challenges in Redis, each bound to its purpose (and, to
    add a passkey, to the person who asked)."""

    def __init__(self, client: redis.Redis, ttl_s: int) -> None:
        self.redis = client
        self.ttl_s = ttl_s

    async def keep(self, challenge: bytes, purpose: str, user_id: UUID | None = None) -> None:
        key = f"{CHALLENGE_PREFIX}{purpose}:{digest(bytes_to_base64url(challenge))}"
        await self.redis.set(key, str(user_id or ""), ex=self.ttl_s)

    async def take(self, client_data_json: bytes, purpose: str) -> tuple[bytes, str]:
        """The challenge the browser signed and whom it was issued for; refused
        when it was never issued, has expired or was already used."""
        try:
            challenge = parse_client_data_json(client_data_json).challenge
        except (WebAuthnException, ValueError, KeyError) as exc:
            raise Refused("passkey_challenge") from exc
        key = f"{CHALLENGE_PREFIX}{purpose}:{digest(bytes_to_base64url(challenge))}"
        owner = await self.redis.getdel(key)
        if owner is None:
            raise Refused("passkey_challenge")
        return challenge, owner.decode() if isinstance(owner, bytes) else str(owner)


class Passkeys(IdentityCore):
    """A person's passkeys, and signing in with one."""

    def __init__(self, parts: IdentityParts, client: redis.Redis) -> None:
        super().__init__(parts)
        self.challenges = Challenges(client, parts.settings.webauthn_challenge_ttl_s)
        self.rp_id = parts.settings.webauthn_rp_id
        self.origins = parts.settings.passkey_origins

    # --- the person's passkeys ---------------------------------------------------------

    async def passkeys(self, user_id: UUID) -> tuple[Sequence[Passkey], bool]:
        """The person's passkeys, and whether they have a password to fall back on."""
        async with self.db.transaction() as db:
            user = await locked_user(db, user_id)
            return await repository.passkeys_of(db, user_id), bool(user.password_hash)

    async def registration_options(self, origin: Origin, user_id: UUID) -> dict[str, Any]:
        """What ``navigator.credentials.create`` needs to make a new passkey."""
        async with self.db.transaction() as db:
            user = await locked_user(db, user_id)
            existing = await repository.passkeys_of(db, user_id)
            if len(existing) >= MAX_PASSKEYS:
                raise Refused("passkey_limit", limit=MAX_PASSKEYS)
            audit(db, origin, "passkey.registration_started", "user", user.id)
        options = generate_registration_options(
            rp_id=self.rp_id,
            rp_name=RP_NAME,
            user_id=user.id.bytes,  # the user handle: opaque, never the e-mail
            user_name=user.email,
            user_display_name=user.name,
            timeout=self.settings.webauthn_challenge_ttl_s * 1000,
            attestation=AttestationConveyancePreference.NONE,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.REQUIRED,
                user_verification=UserVerificationRequirement.REQUIRED,
            ),
            # the same device twice would be two entries for one key
            exclude_credentials=[_descriptor(p) for p in existing],
        )
        await self.challenges.keep(options.challenge, "register", user.id)
        return options_to_json_dict(options)

    async def register(
        self, origin: Origin, user_id: UUID, credential: dict[str, Any], name: str | None
    ) -> Passkey:
        """Check the new passkey against the challenge this person was given, and keep it."""
        try:
            parsed = parse_registration_credential_json(credential)
        except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
            raise Refused("passkey_invalid") from exc
        challenge, owner = await self.challenges.take(parsed.response.client_data_json, "register")
        if owner != str(user_id):
            raise Refused("passkey_challenge")
        try:
            verified = verify_registration_response(
                credential=parsed,
                expected_challenge=challenge,
                expected_rp_id=self.rp_id,
                expected_origin=self.origins,
                require_user_verification=True,
            )
        except WebAuthnException as exc:
            await self._refused(origin, "passkey.register_refused", user_id, exc)
            raise Refused("passkey_invalid") from exc
        credential_id = bytes_to_base64url(verified.credential_id)
        async with self.db.transaction() as db:
            await locked_user(db, user_id)  # one registration at a time per person
            if await repository.passkey_by_credential(db, credential_id) is not None:
                raise Refused("passkey_exists")
            existing = await repository.passkeys_of(db, user_id)
            if len(existing) >= MAX_PASSKEYS:
                raise Refused("passkey_limit", limit=MAX_PASSKEYS)
            passkey = Passkey(
                id=new_id(),
                user_id=user_id,
                credential_id=credential_id,
                public_key=bytes_to_base64url(verified.credential_public_key),
                sign_count=verified.sign_count,
                name=(name or "").strip() or f"Chave de acesso {len(existing) + 1}",
                aaguid=verified.aaguid,
                backed_up=verified.credential_backed_up,
                transports=[t.value for t in parsed.response.transports or []],
                created_at=self.clock.now(),
            )
            db.add(passkey)
            audit(
                db,
                origin,
                "passkey.registered",
                "passkey",
                passkey.id,
                after={"name": passkey.name, "aaguid": passkey.aaguid},
            )
        return passkey

    async def rename(self, origin: Origin, user_id: UUID, passkey_id: UUID, name: str) -> Passkey:
        async with self.db.transaction() as db:
            passkey = await repository.get_passkey(db, passkey_id, user_id, lock=True)
            if passkey is None:
                raise Refused("not_found")
            before = passkey.name
            passkey.name = name.strip()
            audit(
                db,
                origin,
                "passkey.renamed",
                "passkey",
                passkey.id,
                before={"name": before},
                after={"name": passkey.name},
            )
            return passkey

    async def remove(self, origin: Origin, user_id: UUID, passkey_id: UUID) -> None:
        """Remove a passkey; not the last one of an account without a password
        (the person would have no way back in)."""
        async with self.db.transaction() as db:
            user = await locked_user(db, user_id)
            passkey = await repository.get_passkey(db, passkey_id, user_id, lock=True)
            if passkey is None:
                raise Refused("not_found")
            others = [p for p in await repository.passkeys_of(db, user_id) if p.id != passkey.id]
            if not others and not user.password_hash:
                raise Refused("last_passkey")
            await db.delete(passkey)
            audit(
                db, origin, "passkey.removed", "passkey", passkey.id, after={"name": passkey.name}
            )

    # --- signing in ----------------------------------------------------------------------

    async def login_options(self) -> dict[str, Any]:
        """What ``navigator.credentials.get`` needs; no e-mail asked: the passkey says who."""
        options = generate_authentication_options(
            rp_id=self.rp_id,
            timeout=self.settings.webauthn_challenge_ttl_s * 1000,
            allow_credentials=[],  # discoverable: the device offers the person's passkeys
            user_verification=UserVerificationRequirement.REQUIRED,
        )
        await self.challenges.keep(options.challenge, "login")
        return options_to_json_dict(options)

    async def login(
        self, origin: Origin, credential: dict[str, Any], *, previous: str | None = None
    ) -> Session:
        """Check the signed challenge against the passkey's public key; a full session."""
        # the slot is claimed first (atomic with the check) and given back on success
        claim = await self.limiter.claim(self.limiter.address(origin.ip))
        try:
            parsed = parse_authentication_credential_json(credential)
        except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
            raise Refused("passkey_refused") from exc
        challenge, _ = await self.challenges.take(parsed.response.client_data_json, "login")
        async with self.db.transaction() as db:
            passkey = await repository.passkey_by_credential(db, parsed.id)
        handle = parsed.response.user_handle
        if passkey is None or (handle is not None and handle != passkey.user_id.bytes):
            async with self.db.transaction() as db:
                audit(db, origin, "user.login_failed", "user", None, after={"method": "passkey"})
            raise Refused("passkey_refused")
        try:
            verified = verify_authentication_response(
                credential=parsed,
                expected_challenge=challenge,
                expected_rp_id=self.rp_id,
                expected_origin=self.origins,
                credential_public_key=base64url_to_bytes(passkey.public_key),
                credential_current_sign_count=passkey.sign_count,
                require_user_verification=True,
            )
        except WebAuthnException as exc:
            await self._refused(origin, "user.login_failed", passkey.user_id, exc)
            raise Refused("passkey_refused") from exc
        origin.as_actor(Actor(kind=ActorKind.USER, id=str(passkey.user_id)))
        async with self.db.transaction() as db:
            user = await locked_user(db, passkey.user_id)
            if user.email_verified_at is None:
                raise Refused("email_not_verified")
            used = await repository.get_passkey(db, passkey.id, user.id, lock=True)
            if used is None:  # removed while the person was signing in
                raise Refused("passkey_refused")
            used.sign_count = verified.new_sign_count
            used.backed_up = verified.credential_backed_up
            used.last_used_at = self.clock.now()
            companies = await repository.companies_of(db, user.id)
            company_id = companies[0].company_id if companies else None
            audit(
                db,
                origin,
                "user.login",
                "user",
                user.id,
                company_id=company_id,
                after={"method": "passkey", "passkey_id": str(used.id)},
            )
        await self.limiter.release(claim)
        return await self.open_session(
            user=user, company_id=company_id, mfa_pending=False, previous=previous
        )

    async def _refused(self, origin: Origin, action: str, user_id: UUID, exc: Exception) -> None:
        async with self.db.transaction() as db:
            audit(
                db,
                origin,
                action,
                "user",
                user_id,
                after={"method": "passkey", "reason": str(exc)[:200]},
            )


def _descriptor(passkey: Passkey) -> PublicKeyCredentialDescriptor:
    transports = []
    for value in passkey.transports:
        try:
            transports.append(AuthenticatorTransport(value))
        except ValueError:
            continue  # a transport this library does not know: leave the hint out
    return PublicKeyCredentialDescriptor(
        id=base64url_to_bytes(passkey.credential_id), transports=transports or None
    )
