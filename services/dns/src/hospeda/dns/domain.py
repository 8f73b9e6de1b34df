"""Pure DNS rules: names, record validation, the default zone template and the
delegation state machine. No I/O here.

Every text a customer may see is Brazilian Portuguese first, then English.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import idna

from hospeda.contracts.dns import RecordSpec, RecordType
from hospeda.runtime.errors import PermanentError

MAX_NAME = 253
MAX_LABEL = 63
TTL_AUTO = 1
TTL_MIN = 60
TTL_MAX = 86400
TXT_MAX = 2048
TXT_CHUNK = 255
PROXIABLE = {RecordType.A, RecordType.AAAA, RecordType.CNAME}
PRIORITISED = {RecordType.MX, RecordType.SRV}
CAA_TAGS = {"issue", "issuewild", "iodef", "issuemail", "issuevmc"}
SRV_PROTOCOLS = {"_tcp", "_udp", "_tls", "_sctp"}

_LDH = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
_UNDERSCORE = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?$")


class InvalidRecord(PermanentError):
    """A record (or a name) a customer asked for breaks a DNS rule."""


class InvalidDomain(PermanentError):
    """Not a domain name we can host."""


# --- names -----------------------------------------------------------------------------


def _label_to_ascii(label: str, *, underscore: bool, what: str) -> str:
    if not label:
        raise InvalidRecord(
            f"{what}: rótulo vazio (dois pontos seguidos?) / empty label (two dots in a row?)"
        )
    if label.isascii():
        ascii_label = label.lower()
        pattern = _UNDERSCORE if underscore else _LDH
        if not pattern.match(ascii_label):
            allowed = "letras, dígitos, hífen" + (" e _" if underscore else "")
            allowed_en = "letters, digits, hyphen" + (" and _" if underscore else "")
            raise InvalidRecord(
                f"{what}: rótulo {label!r} inválido (use {allowed}, sem hífen no início ou fim) / "
                f"invalid label {label!r} (use {allowed_en}, no hyphen at either end)"
            )
        if ascii_label.startswith("xn--"):
            try:
                idna.decode(ascii_label)
            except idna.IDNAError:
                raise InvalidRecord(
                    f"{what}: rótulo {label!r} não é um IDN (punycode) válido / "
                    f"label {label!r} is not a valid IDN (punycode)"
                ) from None
    else:
        try:
            ascii_label = idna.encode(label, uts46=True).decode("ascii")
        except idna.IDNAError as exc:
            raise InvalidRecord(
                f"{what}: rótulo internacionalizado {label!r} inválido / invalid internationalised label {label!r} ({exc})"
            ) from None
    if len(ascii_label) > MAX_LABEL:
        raise InvalidRecord(
            f"{what}: o rótulo {label!r} tem {len(ascii_label)} caracteres; o máximo é {MAX_LABEL} / "
            f"label {label!r} is {len(ascii_label)} characters long; at most {MAX_LABEL}"
        )
    return ascii_label


def to_ascii(name: str, *, underscore: bool = False, wildcard: bool = False, what: str) -> str:
    """``name`` in lower-case IDNA ASCII form without a trailing dot, or
    ``InvalidRecord`` saying what is wrong with it."""
    text = name.strip().rstrip(".")
    if not text:
        raise InvalidRecord(f"{what}: nome vazio / empty name")
    labels = text.split(".")
    out = []
    for i, label in enumerate(labels):
        if wildcard and i == 0 and label == "*":
            out.append("*")
            continue
        out.append(_label_to_ascii(label, underscore=underscore, what=what))
    result = ".".join(out)
    if len(result) > MAX_NAME:
        raise InvalidRecord(
            f"{what}: o nome tem {len(result)} caracteres; o máximo é {MAX_NAME} / "
            f"name is {len(result)} characters long; at most {MAX_NAME}"
        )
    return result


def normalize_domain(domain: str) -> str:
    """A customer's domain (the zone apex) in IDNA ASCII form: at least two
    labels, letters/digits/hyphens only."""
    try:
        ascii_domain = to_ascii(domain, what="domínio / domain")
    except InvalidRecord as exc:
        raise InvalidDomain(str(exc)) from None
    if "." not in ascii_domain:
        raise InvalidDomain(
            f"domínio {domain!r} precisa de ao menos dois rótulos (ex.: exemplo.com.br) / "
            f"domain {domain!r} needs at least two labels (e.g. example.com.br)"
        )
    if ascii_domain.rsplit(".", 1)[1].isdigit():
        raise InvalidDomain(
            f"{domain!r} parece um endereço IP, não um domínio / looks like an IP address, not a domain"
        )
    return ascii_domain


def relative_name(name: str, domain: str) -> str:
    """A record name relative to ``domain`` (``@`` for the apex). Names with a
    trailing dot are absolute and must lie inside the zone."""
    text = name.strip()
    if text in ("", "@"):
        return "@"
    absolute = text.endswith(".")
    ascii_name = to_ascii(text, underscore=True, wildcard=True, what="nome / name")
    if absolute:
        if ascii_name == domain:
            return "@"
        if not ascii_name.endswith("." + domain):
            raise InvalidRecord(
                f"o nome {text!r} está fora da zona {domain} / name {text!r} is outside zone {domain}"
            )
        ascii_name = ascii_name[: -len(domain) - 1]
    full = fqdn(ascii_name, domain)
    if len(full) > MAX_NAME:
        raise InvalidRecord(
            f"o nome completo {full!r} tem {len(full)} caracteres; o máximo é {MAX_NAME} / "
            f"full name {full!r} is {len(full)} characters long; at most {MAX_NAME}"
        )
    return ascii_name


def fqdn(relative: str, domain: str) -> str:
    """The full name of a relative record name (no trailing dot)."""
    return domain if relative == "@" else f"{relative}.{domain}"


def relative_from_fqdn(full: str, domain: str) -> str:
    full = full.rstrip(".").lower()
    if full == domain:
        return "@"
    suffix = "." + domain
    return full[: -len(suffix)] if full.endswith(suffix) else full


# --- records ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ExistingRecord:
    """A record already in the zone, as far as validation cares."""

    record_id: str
    type: RecordType
    name: str  # relative


def _target(value: str, *, what: str, underscore: bool = False) -> str:
    text = value.strip()
    try:
        ipaddress.ip_address(text)
    except ValueError:
        pass
    else:
        raise InvalidRecord(
            f"{what}: deve ser um nome de host, não um endereço IP ({text}) / "
            f"must be a host name, not an IP address ({text})"
        )
    host = to_ascii(text, underscore=underscore, what=what)
    if "." not in host:
        raise InvalidRecord(
            f"{what}: {text!r} não é um nome completo (ex.: mail.exemplo.com.br) / "
            f"{text!r} is not a fully qualified name (e.g. mail.example.com)"
        )
    return host


def _u16(value: str, what: str) -> int:
    if not value.isdigit() or int(value) > 65535:
        raise InvalidRecord(
            f"{what} deve ser um número de 0 a 65535, não {value!r} / {what} must be a number from 0 to 65535, not {value!r}"
        )
    return int(value)


def _txt_content(content: str) -> str:
    text = content.strip()
    if not text:
        raise InvalidRecord("TXT: conteúdo vazio / TXT: empty content")
    if any(ord(c) < 32 and c != "\t" for c in text):
        raise InvalidRecord(
            "TXT: caracteres de controle não são permitidos / TXT: control characters are not allowed"
        )
    if len(text) > TXT_MAX:
        raise InvalidRecord(
            f"TXT: {len(text)} caracteres; o máximo é {TXT_MAX} / TXT: {len(text)} characters; at most {TXT_MAX}"
        )
    if text.startswith('"'):
        chunks = re.findall(r'"((?:[^"\\]|\\.)*)"', text)
        rebuilt = " ".join(f'"{c}"' for c in chunks)
        if not chunks or re.sub(r'"\s+"', '" "', text) != rebuilt:
            raise InvalidRecord(
                'TXT: aspas desbalanceadas; use "parte 1" "parte 2" / TXT: unbalanced quotes; use "part 1" "part 2"'
            )
        for chunk in chunks:
            if len(chunk.encode()) > TXT_CHUNK:
                raise InvalidRecord(
                    f"TXT: cada trecho entre aspas pode ter até {TXT_CHUNK} bytes; um tem {len(chunk.encode())} / "
                    f"TXT: each quoted string may hold at most {TXT_CHUNK} bytes; one has {len(chunk.encode())}"
                )
    return text


def _caa_content(content: str) -> str:
    match = re.fullmatch(r'\s*(\d{1,3})\s+([A-Za-z0-9]+)\s+"([^"]*)"\s*', content)
    if not match:
        raise InvalidRecord(
            'CAA: use o formato flags tag "valor" (ex.: 0 issue "letsencrypt.org") / '
            'CAA: use the form flags tag "value" (e.g. 0 issue "letsencrypt.org")'
        )
    flags, tag, value = int(match[1]), match[2].lower(), match[3]
    if flags > 255:
        raise InvalidRecord(
            f"CAA: flags vai de 0 a 255, não {flags} / CAA: flags ranges from 0 to 255, not {flags}"
        )
    if tag not in CAA_TAGS:
        raise InvalidRecord(
            f"CAA: tag {tag!r} desconhecida; use {', '.join(sorted(CAA_TAGS))} / "
            f"CAA: unknown tag {tag!r}; use {', '.join(sorted(CAA_TAGS))}"
        )
    if tag == "iodef":
        if not value.startswith(("mailto:", "https://", "http://")):
            raise InvalidRecord(
                "CAA iodef: o valor deve ser uma URL mailto: ou https: / CAA iodef: the value must be a mailto: or https: URL"
            )
    elif tag.startswith("issue") and value.strip() != ";":
        issuer = value.split(";", 1)[0].strip()
        if issuer:
            _target(issuer, what="CAA issuer")
    return f'{flags} {tag} "{value}"'


def _srv_content(name: str, content: str) -> str:
    labels = name.split(".") if name != "@" else []
    if len(labels) < 2 or not labels[0].startswith("_") or labels[1] not in SRV_PROTOCOLS:
        raise InvalidRecord(
            "SRV: o nome deve ser _serviço._protocolo (ex.: _sip._tcp) / "
            "SRV: the name must be _service._protocol (e.g. _sip._tcp)"
        )
    parts = content.split()
    if len(parts) != 3:
        raise InvalidRecord(
            "SRV: use o formato peso porta alvo (ex.: 5 5060 sip.exemplo.com.br); a prioridade vai em priority / "
            "SRV: use the form weight port target (e.g. 5 5060 sip.example.com); the priority goes in priority"
        )
    weight = _u16(parts[0], "SRV weight")
    port = _u16(parts[1], "SRV port")
    target = "." if parts[2] == "." else _target(parts[2], what="SRV target")
    return f"{weight} {port} {target}"


def validate_record(
    spec: RecordSpec,
    domain: str,
    existing: list[ExistingRecord],
    *,
    replacing: str | None = None,
) -> RecordSpec:
    """The record as it will be sent to the provider (names in ASCII, relative
    to the zone), or ``InvalidRecord`` saying what is wrong and how to fix it.

    ``existing`` are the zone's records; ``replacing`` is the id of the one an
    update replaces (it does not conflict with itself)."""
    rtype = RecordType(spec.type)
    name = relative_name(spec.name, domain)
    if not (spec.ttl == TTL_AUTO or TTL_MIN <= spec.ttl <= TTL_MAX):
        raise InvalidRecord(
            f"TTL {spec.ttl} fora dos limites: use 1 (automático) ou de {TTL_MIN} a {TTL_MAX} segundos / "
            f"TTL {spec.ttl} out of bounds: use 1 (automatic) or {TTL_MIN} to {TTL_MAX} seconds"
        )
    if spec.proxied and rtype not in PROXIABLE:
        raise InvalidRecord(
            f"{rtype}: só registros A, AAAA e CNAME podem passar pelo proxy / only A, AAAA and CNAME records can be proxied"
        )
    priority = spec.priority
    if rtype in PRIORITISED:
        if priority is None:
            raise InvalidRecord(
                f"{rtype}: informe a prioridade (0 a 65535) / {rtype}: give a priority (0 to 65535)"
            )
    elif priority is not None:
        raise InvalidRecord(
            f"{rtype}: prioridade só vale para MX e SRV / {rtype}: priority only applies to MX and SRV"
        )
    content = spec.content.strip()
    if rtype is RecordType.A:
        try:
            content = str(ipaddress.IPv4Address(content))
        except ValueError:
            raise InvalidRecord(
                f"A: {spec.content!r} não é um endereço IPv4 (ex.: 203.0.113.10) / A: {spec.content!r} is not an IPv4 address (e.g. 203.0.113.10)"
            ) from None
    elif rtype is RecordType.AAAA:
        try:
            content = str(ipaddress.IPv6Address(content))
        except ValueError:
            raise InvalidRecord(
                f"AAAA: {spec.content!r} não é um endereço IPv6 (ex.: 2001:db8::10) / AAAA: {spec.content!r} is not an IPv6 address (e.g. 2001:db8::10)"
            ) from None
    elif rtype is RecordType.CNAME:
        if name == "@":
            raise InvalidRecord(
                "CNAME não é permitido no domínio principal (@); use A/AAAA / "
                "CNAME is not allowed at the zone apex (@); use A/AAAA"
            )
        content = _target(content, what="CNAME", underscore=True)
        if content == fqdn(name, domain):
            raise InvalidRecord(
                "CNAME não pode apontar para si mesmo / CNAME cannot point to itself"
            )
    elif rtype is RecordType.MX:
        content = _target(content, what="MX")
    elif rtype is RecordType.NS:
        if name == "@":
            raise InvalidRecord(
                "os registros NS do domínio principal são gerenciados pela plataforma / "
                "the apex NS records are managed by the platform"
            )
        content = _target(content, what="NS")
    elif rtype is RecordType.TXT:
        content = _txt_content(content)
    elif rtype is RecordType.SRV:
        content = _srv_content(name, content)
    elif rtype is RecordType.CAA:
        content = _caa_content(content)
    _check_conflicts(rtype, name, existing, replacing)
    return RecordSpec(
        type=rtype,
        name=name,
        content=content,
        ttl=spec.ttl,
        priority=priority,
        proxied=spec.proxied,
    )


def _check_conflicts(
    rtype: RecordType, name: str, existing: list[ExistingRecord], replacing: str | None
) -> None:
    same_name = [r for r in existing if r.name == name and r.record_id != replacing]
    if not same_name:
        return
    if rtype is RecordType.CNAME:
        raise InvalidRecord(
            f"já existem registros em {name!r}; um CNAME não pode coexistir com outros registros do mesmo nome / "
            f"records already exist at {name!r}; a CNAME cannot coexist with other records of the same name"
        )
    if any(r.type is RecordType.CNAME for r in same_name):
        raise InvalidRecord(
            f"{name!r} já é um CNAME; remova-o antes de criar outro registro com esse nome / "
            f"{name!r} is already a CNAME; remove it before adding another record with that name"
        )
    types = {r.type for r in same_name}
    if (rtype is RecordType.NS and types - {RecordType.NS}) or (
        rtype is not RecordType.NS and RecordType.NS in types
    ):
        raise InvalidRecord(
            f"{name!r} é delegado por NS e não pode ter outros tipos de registro / "
            f"{name!r} is delegated by NS and cannot hold other record types"
        )


def default_records(server_ip: str) -> list[RecordSpec]:
    """What a new hosting zone holds: the site, www, mail, FTP and webmail on
    the account's server, mail routed there, SPF and DMARC."""
    ip = str(ipaddress.ip_address(server_ip))
    address = RecordType.A if ipaddress.ip_address(ip).version == 4 else RecordType.AAAA
    return [
        RecordSpec(type=address, name="@", content=ip, ttl=TTL_AUTO),
        RecordSpec(type=address, name="www", content=ip, ttl=TTL_AUTO),
        RecordSpec(type=address, name="mail", content=ip, ttl=TTL_AUTO),
        RecordSpec(type=address, name="ftp", content=ip, ttl=TTL_AUTO),
        RecordSpec(type=address, name="webmail", content=ip, ttl=TTL_AUTO),
        RecordSpec(
            type=RecordType.MX, name="@", content="mail.{domain}", ttl=TTL_AUTO, priority=10
        ),
        RecordSpec(
            type=RecordType.TXT,
            name="@",
            content=f"v=spf1 a mx {'ip4' if address is RecordType.A else 'ip6'}:{ip} ~all",
            ttl=TTL_AUTO,
        ),
        RecordSpec(
            type=RecordType.TXT,
            name="_dmarc",
            content="v=DMARC1; p=quarantine; rua=mailto:postmaster@{domain}",
            ttl=TTL_AUTO,
        ),
    ]


def template_for(domain: str, server_ip: str) -> list[RecordSpec]:
    """The default records of ``domain``, with its name filled in."""
    return [
        r.model_copy(update={"content": r.content.replace("{domain}", domain)})
        for r in default_records(server_ip)
    ]


# --- delegation --------------------------------------------------------------------------


class DelegationStatus(StrEnum):
    NOT_STARTED = "not_started"
    PENDING = "pending"
    VERIFIED = "verified"
    FAILED = "failed"
    LOST = "lost"


@dataclass(frozen=True)
class DelegationCheck:
    """What one check over the wire found."""

    expected: tuple[str, ...]
    found: tuple[str, ...]
    problems: tuple[str, ...] = ()
    inconclusive: bool = False  # a server did not answer: nothing can be concluded
    # Worth fixing, yet resolution works: e.g. the child's NS set differs from the parent's.
    warnings: tuple[str, ...] = ()

    @property
    def verified(self) -> bool:
        return not self.problems and not self.inconclusive


@dataclass(frozen=True)
class Transition:
    """The new delegation status and which event (if any) announces it."""

    status: DelegationStatus
    event: str | None = None  # "verified" | "lost" | "failed"


def next_status(
    current: DelegationStatus, check: DelegationCheck, *, now: datetime, deadline: datetime | None
) -> Transition:
    """Where a domain's delegation goes after a check."""
    if check.verified:
        if current is DelegationStatus.VERIFIED:
            return Transition(current)
        return Transition(DelegationStatus.VERIFIED, "verified")
    if current is DelegationStatus.VERIFIED:
        return Transition(DelegationStatus.LOST, "lost")
    if current is DelegationStatus.PENDING and deadline is not None and now >= deadline:
        return Transition(DelegationStatus.FAILED, "failed")
    return Transition(current)


def compare_nameservers(expected: tuple[str, ...], found: tuple[str, ...]) -> tuple[str, ...]:
    """Problems with the parent's NS set (empty when it matches)."""
    if not found:
        return (
            "o domínio não está delegado na zona pai (nenhum NS encontrado) / "
            "the parent zone does not delegate the domain (no NS found)",
        )
    if set(found) == set(expected):
        return ()
    return (
        f"a zona pai aponta para {', '.join(sorted(found))}; configure {', '.join(sorted(expected))} / "
        f"the parent zone points to {', '.join(sorted(found))}; set {', '.join(sorted(expected))}",
    )


@dataclass(frozen=True)
class RetrySchedule:
    """Exponential backoff of delegation re-checks, capped."""

    base: timedelta
    cap: timedelta
    factor: float = 2.0

    def attempts_within(self, window: timedelta) -> int:
        """How many attempts the engine needs so the last one comes after ``window``."""
        elapsed, attempts, delay = timedelta(0), 1, self.base
        while elapsed < window:
            elapsed += min(delay, self.cap)
            delay = min(timedelta(seconds=delay.total_seconds() * self.factor), self.cap)
            attempts += 1
        return attempts + 1
