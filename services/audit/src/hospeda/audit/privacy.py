"""Personal data in audit entries (LGPD): which values are personal, whose they
are, and their sealed form.

A personal value is stored as a *marker*: ``pii:1:<subject>:<category>:<period>:<ciphertext>``
— AES-256-GCM under the key of one data subject for one retention category
and month, the marker's prefix bound in as associated data. Entries are hashed
over that stored form, so destroying keys (an erasure, or retention running
out) makes the values unreadable everywhere while every hash still verifies.

Whose is a value (the rules, in order):

1. an e-mail address belongs to the person with that address;
2. a personal value inside an object that names a person (an e-mail field or
   a ``user_id``) belongs to that person; ``inviter`` belongs to the actor;
3. otherwise to the entry's person: the notification's recipient, the user an
   entry is about (entity ``user``), the acting person or API token, else the
   company (or the platform);
4. the IP address and user agent belong to the acting person (else rule 3).

An object holding both an e-mail and a ``user_id`` — or an entry about a user
holding an e-mail — tells that both name one person, so an erasure by either
finds everything. Subjects are referred to here by ``refs`` (``email:…``,
``user:…``, ``token:…``, ``company:…``, ``platform``); the service maps each to
a pseudonymous subject id. Pure: the keys come from the caller.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MARKER = "pii:1:"
ERASED = "[apagado / erased]"
OTHER_SUBJECT = "[outro titular / another data subject]"

PERSONAL_KEY = re.compile(
    r"^(e-?mail|.*_e-?mail|e-?mail_.*|name|.*_name|inviter|phone|telefone|celular|mobile|"
    r"cpf|cnpj|document|documento|tax_id|address|endereco|street|cep|zip|zip_code|postal_code|"
    r"birth.*|ip|ip_address|client_ip|user_agent|reason|note|notes|comment|message|"
    r"description|text|body|summary)$",
    re.IGNORECASE,
)
"""Keys whose value is personal data (names, contacts, documents, free text)."""

NOT_PERSONAL_KEY = re.compile(r"^(template|step|kind|queue|host_?name|server_?name)$", re.I)
EMAIL_KEY = re.compile(r"^(e-?mail|.*_e-?mail|e-?mail_address)$", re.IGNORECASE)
EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+")
NON_PERSONAL_TOPICS = frozenset({"billing.catalog.v1", "ops.probe.v1"})
"""Topics that never carry anyone's data (the marketplace, the self test)."""

PERSON_ENTITIES = frozenset({"user", "member", "membership", "staff"})


def email_ref(address: str) -> str:
    return f"email:{address.strip().lower()}"


@functools.lru_cache(maxsize=4096)
def is_personal_key(key: str) -> bool:
    return bool(PERSONAL_KEY.match(key)) and not NOT_PERSONAL_KEY.match(key)


@functools.lru_cache(maxsize=4096)
def is_email_key(key: str) -> bool:
    return bool(EMAIL_KEY.match(key))


@dataclass(frozen=True)
class People:
    """Who an entry's personal data belongs to when nothing closer says."""

    default: str
    actor: str
    about: str | None = None  # the user an entry is about (entity ``user``)

    @classmethod
    def of(
        cls,
        *,
        actor_kind: str,
        actor_id: str | None,
        entity: str,
        entity_id: str | None,
        company_id: UUID | None,
        payload: Mapping[str, Any] | None,
    ) -> People:
        company = f"company:{company_id}" if company_id else "platform"
        acting = (
            f"token:{actor_id}"
            if actor_kind == "api_token" and actor_id
            else f"user:{actor_id}"
            if actor_kind in ("user", "staff") and actor_id
            else None
        )
        about = f"user:{entity_id}" if entity in PERSON_ENTITIES and entity_id else None
        recipient = _person_in((payload or {}).get("recipient"))
        default = recipient or about or acting or company
        return cls(default=default, actor=acting or about or company, about=about)


def _person_in(value: Any) -> str | None:
    if not isinstance(value, Mapping):
        return None
    for key, item in value.items():
        if is_email_key(str(key)) and isinstance(item, str) and EMAIL.fullmatch(item.strip()):
            return email_ref(item)
    user_id = value.get("user_id")
    return f"user:{user_id}" if user_id else None


@dataclass
class Plan:
    """What sealing one entry needs: every subject ref it names, and which
    refs name one person (to be linked)."""

    refs: set[str] = field(default_factory=set)
    links: list[frozenset[str]] = field(default_factory=list)


Visit = Callable[[Any, str], Any]


class _Walker:
    """One walk over an entry's JSON that finds each personal value and its
    owner; ``visit(value, ref)`` returns what to store instead."""

    def __init__(self, people: People, visit: Visit, plan: Plan | None = None) -> None:
        self.people = people
        self.visit = visit
        self.plan = plan

    def walk(self, value: Any, ref: str, *, top: bool = False) -> Any:
        if isinstance(value, Mapping):
            return self._object(value, ref, top=top)
        if isinstance(value, list | tuple):
            return [self.walk(item, ref) for item in value]
        if isinstance(value, str) and not value.startswith(MARKER):
            found = EMAIL.search(value)
            if found:
                return self.visit(value, email_ref(found.group(0)))
        return value

    def _object(self, value: Mapping[str, Any], ref: str, *, top: bool) -> dict[str, Any]:
        own = _person_in(value)
        if own is not None and self.plan is not None:
            named = {own}
            if value.get("user_id"):
                named.add(f"user:{value['user_id']}")
            if top and self.people.about:
                named.add(self.people.about)
            if len(named) > 1:
                self.plan.links.append(frozenset(named))
        here = own or ref
        out: dict[str, Any] = {}
        for key, item in value.items():
            if item is None or isinstance(item, bool):
                out[key] = item
            elif isinstance(item, str) and item.startswith(MARKER):
                out[key] = item  # sealed already (a migrated or replayed entry)
            elif is_personal_key(key):
                if is_email_key(key) and isinstance(item, str) and EMAIL.fullmatch(item.strip()):
                    owner = email_ref(item)
                elif key.lower() == "inviter":
                    owner = self.people.actor
                else:
                    owner = here
                out[key] = self.visit(item, owner)
            else:
                out[key] = self.walk(item, here)
        return out


def plan(people: People, *parts: Any, ip: str | None = None, user_agent: str | None = None) -> Plan:
    """The refs sealing ``parts`` (before, after …) and the envelope's IP and
    user agent will need."""
    result = Plan()

    def note(value: Any, ref: str) -> Any:
        result.refs.add(ref)
        return value

    walker = _Walker(people, note, result)
    for part in parts:
        walker.walk(part, people.default, top=True)
    if ip or user_agent:
        result.refs.add(people.actor)
    return result


_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))

Cipher = Callable[[UUID], AESGCM]
"""The AES-GCM cipher of one subject (for the entry's category and month)."""


@dataclass(frozen=True)
class Sealer:
    """Seals the personal values of one entry: ``subject_of`` maps a ref to
    its subject id, ``cipher`` gives that subject's key for this entry's
    category and ``period`` (``YYYYMM``)."""

    people: People
    subject_of: Callable[[str], UUID]
    cipher: Cipher
    category: str
    period: str
    used: set[UUID] = field(default_factory=set)  # the subjects whose data was sealed

    def seal_value(self, value: Any, ref: str) -> str:
        subject = self.subject_of(ref)
        self.used.add(subject)
        prefix = f"{MARKER}{subject}:{self.category}:{self.period}:"
        nonce = os.urandom(12)
        plaintext = _COMPACT.encode(value).encode()
        sealed = self.cipher(subject).encrypt(nonce, plaintext, prefix.encode())
        return prefix + base64.urlsafe_b64encode(nonce + sealed).decode("ascii").rstrip("=")

    def seal(self, value: Any) -> Any:
        return _Walker(self.people, self.seal_value).walk(value, self.people.default, top=True)

    def seal_envelope_text(self, text: str | None) -> str | None:
        """The IP or user agent: the acting person's."""
        return None if text is None else self.seal_value(text, self.people.actor)


@dataclass(frozen=True)
class Marker:
    subject: UUID
    category: str
    period: str
    prefix: str
    blob: bytes


def parse_marker(text: str) -> Marker | None:
    if not text.startswith(MARKER):
        return None
    try:
        subject, category, period, blob = text[len(MARKER) :].split(":", 3)
        padded = blob + "=" * (-len(blob) % 4)
        return Marker(
            UUID(subject),
            category,
            period,
            text[: len(text) - len(blob)],
            base64.urlsafe_b64decode(padded),
        )
    except ValueError:
        return None


KeyLookup = Callable[[UUID, str, str], AESGCM | None]
"""A subject's cipher for (category, period), or None once destroyed."""


def open_text(text: str, key_of: KeyLookup, only: set[UUID] | None = None) -> Any:
    """The value a marker seals, or ``ERASED`` when its key is gone (with
    ``only``: other subjects' values stay closed)."""
    marker = parse_marker(text)
    if marker is None:
        return text
    if only is not None and marker.subject not in only:
        return OTHER_SUBJECT
    cipher = key_of(marker.subject, marker.category, marker.period)
    if cipher is None:
        return ERASED
    try:
        plaintext = cipher.decrypt(marker.blob[:12], marker.blob[12:], marker.prefix.encode())
    except InvalidTag:
        return ERASED
    return json.loads(plaintext)


def open_all(value: Any, key_of: KeyLookup, only: set[UUID] | None = None) -> Any:
    """``value`` with every marker inside opened (or shown as erased)."""
    if isinstance(value, Mapping):
        return {k: open_all(v, key_of, only) for k, v in value.items()}
    if isinstance(value, list):
        return [open_all(v, key_of, only) for v in value]
    if isinstance(value, str):
        return open_text(value, key_of, only)
    return value


def pseudonymise_id(value: str | None, sealer: Sealer) -> str | None:
    """An identifier that is an e-mail address becomes ``subject:<id>``."""
    if value and "@" in value and EMAIL.fullmatch(value.strip()):
        subject = sealer.subject_of(email_ref(value))
        sealer.used.add(subject)
        return f"subject:{subject}"
    return value


def refs_in_id(value: str | None) -> set[str]:
    return {email_ref(value)} if value and EMAIL.fullmatch(value.strip()) else set()


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)
