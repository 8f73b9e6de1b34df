"""Data subjects and their keys: finding a person's pseudonymous id from an
e-mail or user id (by HMAC, never storing either), their per-category, per-month
AES keys (sealed with the service's data key), and destroying those keys.

The database is the only truth: keys are looked up for every batch and every
read, so a key destroyed by another process (``erase``) is gone here at once;
the cache below only saves re-opening the same sealed key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlmodel.ext.asyncio.session import AsyncSession

from hospeda.audit import repository
from hospeda.audit.privacy import KeyLookup, Plan, email_ref, new_data_key
from hospeda.contracts import new_id
from hospeda.runtime.sealing import SecretBox

KeyId = tuple[UUID, str, str]  # subject, category, period


class SubjectKeys:
    """Subject resolution and the AES keys of subjects."""

    def __init__(self, box: SecretBox) -> None:
        self.box = box
        self._alias_secret: bytes | None = None
        self._opened: dict[str, AESGCM] = {}  # sealed text → cipher

    async def alias_secret(self, session: AsyncSession) -> bytes:
        if self._alias_secret is None:
            head = await repository.log_head(session)
            if head is None:
                raise RuntimeError("the audit log has no head yet (run the migrations)")
            self._alias_secret = base64.b64decode(self.box.open(head.alias_secret))
        return self._alias_secret

    def new_alias_secret(self) -> str:
        return self.box.seal(base64.b64encode(os.urandom(32)).decode())

    async def alias(self, session: AsyncSession, ref: str) -> str:
        return _alias(await self.alias_secret(session), ref)

    async def resolve(
        self, session: AsyncSession, plans: Iterable[Plan], now: datetime
    ) -> dict[str, UUID]:
        """Every ref the plans name → its subject (created when new); refs that
        name one person share one subject, and either finds it later."""
        plans = list(plans)
        refs = set().union(*(p.refs for p in plans), *(r for p in plans for r in p.links))
        if not refs:
            return {}
        secret = await self.alias_secret(session)
        alias_of = {ref: _alias(secret, ref) for ref in refs}
        known = await repository.aliases(session, alias_of.values())
        subjects = {ref: list(known.get(alias_of[ref], [])) for ref in refs}
        new_subjects: list[UUID] = []
        new_aliases: set[tuple[str, UUID]] = set()
        for group in [frozenset({ref}) for ref in refs] + [g for p in plans for g in p.links]:
            union = [s for ref in sorted(group) for s in subjects[ref]]
            if not union:
                subject = new_id()
                new_subjects.append(subject)
                union = [subject]
            for ref in group:
                for subject in dict.fromkeys(union):
                    if subject not in subjects[ref]:
                        subjects[ref].append(subject)
                        new_aliases.add((alias_of[ref], subject))
        await repository.add_subjects(session, new_subjects, now)
        await repository.add_aliases(session, new_aliases, now)
        return {ref: found[0] for ref, found in subjects.items()}

    async def ciphers(
        self, session: AsyncSession, wanted: set[KeyId], now: datetime
    ) -> dict[KeyId, AESGCM]:
        """The keys for sealing: existing ones, and new ones for new months."""
        sealed = await repository.sealed_keys(session, wanted)
        created: dict[KeyId, str] = {}
        ciphers: dict[KeyId, AESGCM] = {}
        for key_id in wanted:
            if key_id in sealed:
                ciphers[key_id] = self._open(sealed[key_id])
            else:
                raw = new_data_key()
                created[key_id] = self.box.seal(base64.b64encode(raw).decode())
                ciphers[key_id] = AESGCM(raw)
        await repository.add_keys(session, created, now)
        return ciphers

    async def lookup(self, session: AsyncSession, wanted: set[KeyId]) -> KeyLookup:
        """For reading: the keys that still exist among ``wanted``."""
        sealed = await repository.sealed_keys(session, wanted)
        found = {key_id: self._open(text) for key_id, text in sealed.items()}
        return lambda subject, category, period: found.get((subject, category, period))

    def _open(self, sealed: str) -> AESGCM:
        cipher = self._opened.get(sealed)
        if cipher is None:
            if len(self._opened) > 50_000:
                self._opened.clear()
            cipher = AESGCM(base64.b64decode(self.box.open(sealed)))
            self._opened[sealed] = cipher
        return cipher

    async def find(self, session: AsyncSession, subject: str) -> set[UUID]:
        """Every subject an e-mail address, user id, token id, company id or
        pseudonymous subject id names (erased ones too)."""
        text = subject.strip()
        if "@" in text:
            refs = [email_ref(text)]
            direct = None
        else:
            refs = [f"user:{text}", f"token:{text}", f"company:{text}"]
            try:
                direct = UUID(text)
            except ValueError:
                direct = None
        names = [await self.alias(session, ref) for ref in refs]
        return await repository.subject_ids(session, names, direct)


def _alias(secret: bytes, ref: str) -> str:
    return hmac.new(secret, ref.encode(), hashlib.sha256).hexdigest()
