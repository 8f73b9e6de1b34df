"""Customers' records: every kind of bad input is refused with a clear reason
before it reaches Cloudflare; good changes reach it once."""

from __future__ import annotations

from uuid import uuid4

import pytest
from dns_kit import CloudflareSim, StartDns

from hospeda.contracts.dns import (
    CreateRecord,
    DeleteRecord,
    RecordSpec,
    RecordType,
    UpdateRecord,
)
from hospeda.dns.domain import (
    ExistingRecord,
    InvalidDomain,
    InvalidRecord,
    normalize_domain,
    validate_record,
)

ZONE = "exemplo.com.br"
EXISTING = [
    ExistingRecord("r-apex", RecordType.A, "@"),
    ExistingRecord("r-www", RecordType.A, "www"),
    ExistingRecord("r-blog", RecordType.CNAME, "blog"),
    ExistingRecord("r-sub", RecordType.NS, "sub"),
]


def spec(rtype: str, name: str, content: str, **extra: object) -> RecordSpec:
    return RecordSpec(type=RecordType(rtype), name=name, content=content, **extra)


BAD = [
    # names: IDNA, labels, lengths
    (spec("A", "exa mple", "203.0.113.1"), "rótulo 'exa mple' inválido"),
    (spec("A", "-www", "203.0.113.1"), "sem hífen no início ou fim"),
    (spec("A", "a..b", "203.0.113.1"), "rótulo vazio"),
    (spec("A", "x" * 64, "203.0.113.1"), "tem 64 caracteres; o máximo é 63"),
    (spec("A", ".".join(["a" * 60] * 4), "203.0.113.1"), "o máximo é 253"),
    (spec("A", "outro.com.br.", "203.0.113.1"), "está fora da zona"),
    (spec("A", "xn--a", "203.0.113.1"), "não é um IDN (punycode) válido"),
    # TTL bounds
    (spec("A", "app", "203.0.113.1", ttl=30), "TTL 30 fora dos limites"),
    (spec("A", "app", "203.0.113.1", ttl=86401), "TTL 86401 fora dos limites"),
    (spec("A", "app", "203.0.113.1", ttl=0), "TTL 0 fora dos limites"),
    # content per type
    (spec("A", "app", "203.0.113.300"), "não é um endereço IPv4"),
    (spec("A", "app", "2001:db8::1"), "não é um endereço IPv4"),
    (spec("AAAA", "app", "203.0.113.1"), "não é um endereço IPv6"),
    (spec("CNAME", "app", "203.0.113.1"), "deve ser um nome de host, não um endereço IP"),
    (spec("CNAME", "app", "localhost"), "não é um nome completo"),
    (spec("CNAME", "app", "app.exemplo.com.br"), "não pode apontar para si mesmo"),
    (spec("MX", "@", "mail.exemplo.com.br"), "informe a prioridade"),
    (spec("MX", "@", "203.0.113.1", priority=10), "não um endereço IP"),
    (spec("MX", "@", "mail_server.exemplo.com.br", priority=10), "inválido"),
    (spec("A", "app", "203.0.113.1", priority=5), "prioridade só vale para MX e SRV"),
    (spec("NS", "@", "ns1.outro.com.br"), "gerenciados pela plataforma"),
    (spec("TXT", "@", "x" * 2049), "o máximo é 2048"),
    (spec("TXT", "@", '"' + "x" * 256 + '"'), "até 255 bytes"),
    (spec("TXT", "@", '"aberto'), "aspas desbalanceadas"),
    (spec("TXT", "@", "linha\nquebrada"), "caracteres de controle"),
    (spec("TXT", "@", "   "), "conteúdo vazio"),
    (spec("SRV", "sip", "5 5060 sip.exemplo.com.br", priority=10), "_serviço._protocolo"),
    (spec("SRV", "_sip._xyz", "5 5060 sip.exemplo.com.br", priority=10), "_serviço._protocolo"),
    (spec("SRV", "_sip._tcp", "5 5060", priority=10), "peso porta alvo"),
    (spec("SRV", "_sip._tcp", "5 70000 sip.exemplo.com.br", priority=10), "de 0 a 65535"),
    (spec("SRV", "_sip._tcp", "5 5060 sip.exemplo.com.br"), "informe a prioridade"),
    (spec("CAA", "@", "0 issue letsencrypt.org"), 'flags tag "valor"'),
    (spec("CAA", "@", '256 issue "letsencrypt.org"'), "flags vai de 0 a 255"),
    (spec("CAA", "@", '0 issuer "letsencrypt.org"'), "tag 'issuer' desconhecida"),
    (spec("CAA", "@", '0 iodef "ftp://x.example"'), "mailto: ou https:"),
    (spec("TXT", "@", "v=spf1 -all", proxied=True), "só registros A, AAAA e CNAME"),
    # CNAME conflicts
    (spec("CNAME", "@", "outro.com.br"), "CNAME não é permitido no domínio principal"),
    (spec("CNAME", "www", "outro.com.br"), "um CNAME não pode coexistir"),
    (spec("A", "blog", "203.0.113.1"), "'blog' já é um CNAME"),
    (spec("TXT", "blog", "v=x"), "'blog' já é um CNAME"),
    (spec("A", "sub", "203.0.113.1"), "delegado por NS"),
]


@pytest.mark.parametrize(
    ("record", "reason"), BAD, ids=[f"{r.type}:{r.name[:20]}:{why[:30]}" for r, why in BAD]
)
def test_bad_records_are_refused_with_a_reason_in_portuguese_then_english(
    record: RecordSpec, reason: str
) -> None:
    with pytest.raises(InvalidRecord) as refused:
        validate_record(record, ZONE, EXISTING)
    text = str(refused.value)
    assert reason in text
    assert " / " in text  # pt-BR first, then English


GOOD = [
    (spec("A", "app", "203.0.113.1"), ("app", "203.0.113.1")),
    (spec("A", "App.Exemplo.com.br.", "203.0.113.1"), ("app", "203.0.113.1")),
    (spec("A", "ação", "203.0.113.1"), ("xn--ao-siap", "203.0.113.1")),
    (spec("A", "*.loja", "203.0.113.1"), ("*.loja", "203.0.113.1")),
    (spec("AAAA", "v6", "2001:DB8:0::1"), ("v6", "2001:db8::1")),
    (spec("CNAME", "loja", "Shops.MyShopify.com."), ("loja", "shops.myshopify.com")),
    (
        spec("CNAME", "s1._domainkey", "s1.domainkey.u1.wl.sendgrid.net"),
        ("s1._domainkey", "s1.domainkey.u1.wl.sendgrid.net"),
    ),
    (spec("MX", "@", "aspmx.l.google.com", priority=1), ("@", "aspmx.l.google.com")),
    (spec("TXT", "@", "google-site-verification=abc"), ("@", "google-site-verification=abc")),
    (
        spec("TXT", "dkim", '"' + "a" * 255 + '" "' + "b" * 100 + '"'),
        ("dkim", '"' + "a" * 255 + '" "' + "b" * 100 + '"'),
    ),
    (
        spec("SRV", "_sip._tcp", "5 5060 sip.exemplo.com.br", priority=10),
        ("_sip._tcp", "5 5060 sip.exemplo.com.br"),
    ),
    (spec("CAA", "@", '0 issue "letsencrypt.org"'), ("@", '0 issue "letsencrypt.org"')),
    (spec("NS", "dev", "ns1.outro.com.br"), ("dev", "ns1.outro.com.br")),
    (spec("A", "www", "203.0.113.2", ttl=1), ("www", "203.0.113.2")),
    (spec("A", "app", "203.0.113.1", ttl=60, proxied=True), ("app", "203.0.113.1")),
]


@pytest.mark.parametrize(
    ("record", "normal"), GOOD, ids=[f"{r.type}:{r.name[:20]}" for r, _ in GOOD]
)
def test_good_records_come_out_normalised(record: RecordSpec, normal: tuple[str, str]) -> None:
    valid = validate_record(record, ZONE, EXISTING)
    assert (valid.name, valid.content) == normal


def test_an_update_does_not_conflict_with_the_record_it_replaces() -> None:
    valid = validate_record(
        spec("CNAME", "blog", "outro.com.br"), ZONE, EXISTING, replacing="r-blog"
    )
    assert valid.content == "outro.com.br"


@pytest.mark.parametrize(
    "domain", ["", "localhost", "exa mple.com", "203.0.113.1", "-x.com.br", ("a" * 64) + ".com"]
)
def test_bad_domains_are_refused(domain: str) -> None:
    with pytest.raises(InvalidDomain):
        normalize_domain(domain)


def test_domains_are_kept_in_idna_ascii_form() -> None:
    assert normalize_domain("Pão-de-Açúcar.com.br.") == "xn--po-de-acar-f5a8cwp.com.br"


# --- through the service -----------------------------------------------------------------


async def test_customers_manage_records_and_bad_input_is_refused_before_cloudflare(
    start_dns: StartDns, cloudflare: CloudflareSim
) -> None:
    dns = await start_dns()
    await dns.activate(ZONE)
    await dns.wait_zone(ZONE, lambda z: z["status"] == "active", message="zone active")
    before = (await cloudflare.stats())["requests"]

    refused = [
        CreateRecord(domain=ZONE, record=spec("A", "app", "999.1.1.1")),
        CreateRecord(domain=ZONE, record=spec("CNAME", "www", "outro.com.br")),
        CreateRecord(domain=ZONE, record=spec("A", "app", "203.0.113.1", ttl=10)),
        CreateRecord(domain="de-outro.com.br", record=spec("A", "app", "203.0.113.1")),
        UpdateRecord(domain=ZONE, record_id="nao-existe", record=spec("A", "app", "203.0.113.1")),
        DeleteRecord(domain=ZONE, record_id="nao-existe"),
    ]
    for command in refused:
        await dns.send(command, key=command.domain)
    events = await dns.wait_events({"dns.record.rejected": len(refused)})
    reasons = [e.payload.reason for e in events if e.type == "dns.record.rejected"]
    expected = [
        "não é um endereço IPv4",
        "um CNAME não pode coexistir",
        "TTL 10 fora dos limites",
        "Domínio de-outro.com.br não encontrado nesta empresa / "
        "Domain de-outro.com.br not found in this company",
        "o registro nao-existe não existe em exemplo.com.br / record nao-existe does not exist",
    ]
    for text in expected:
        assert any(text in reason for reason in reasons), (text, reasons)
    commands = sorted(e.payload.command for e in events if e.type == "dns.record.rejected")
    assert commands == ["dns.create_record"] * 4 + ["dns.delete_record", "dns.update_record"]
    assert (await cloudflare.stats())["requests"] == before  # nothing reached Cloudflare

    # another company cannot touch this zone either
    await dns.send(
        CreateRecord(domain=ZONE, record=spec("A", "app", "203.0.113.1")),
        key=ZONE,
        company_id=uuid4(),
    )
    events = await dns.wait_events({"dns.record.rejected": len(refused) + 1})
    assert "não encontrado nesta empresa" in events[-1].payload.reason

    # good changes: create, update, delete
    await dns.send(CreateRecord(domain=ZONE, record=spec("A", "App", "203.0.113.1")), key=ZONE)
    events = await dns.wait_events({"dns.record.created": 1})
    created = next(e for e in events if e.type == "dns.record.created").payload.record
    assert (created.name, created.content) == ("app", "203.0.113.1")
    await dns.send(
        UpdateRecord(
            domain=ZONE,
            record_id=created.record_id,
            record=spec("A", "app", "203.0.113.2", ttl=300),
        ),
        key=ZONE,
    )
    await dns.wait_events({"dns.record.updated": 1})
    zone = await cloudflare.zone(ZONE)
    app = [r for r in zone["records"] if r["name"] == "app.exemplo.com.br"]
    assert [(r["content"], r["ttl"]) for r in app] == [("203.0.113.2", 300)]
    listed = await dns.query("records.list", {"domain": ZONE, "type": "A", "limit": 2})
    assert len(listed["items"]) == 2 and listed["next_cursor"]
    rest = await dns.query(
        "records.list", {"domain": ZONE, "type": "A", "cursor": listed["next_cursor"]}
    )
    names = [r["name"] for r in listed["items"] + rest["items"]]
    assert sorted(names) == ["@", "app", "ftp", "mail", "webmail", "www"]

    await dns.send(DeleteRecord(domain=ZONE, record_id=created.record_id), key=ZONE)
    await dns.wait_events({"dns.record.deleted": 1})
    zone = await cloudflare.zone(ZONE)
    assert not [r for r in zone["records"] if r["name"] == "app.exemplo.com.br"]
    assert "app" not in [r["name"] for r in (await dns.zone(ZONE))["records"]]


async def test_a_conflict_that_appears_while_queued_is_refused_when_the_job_runs(
    start_dns: StartDns, cloudflare: CloudflareSim
) -> None:
    dns = await start_dns()
    await dns.activate(ZONE)
    await dns.wait_zone(ZONE, lambda z: z["status"] == "active", message="zone active")
    # both pass the first validation (neither exists yet); in key order, the
    # second finds the first one and is refused
    first = CreateRecord(domain=ZONE, record=spec("CNAME", "loja", "shops.myshopify.com"))
    second = CreateRecord(domain=ZONE, record=spec("A", "loja", "203.0.113.5"))
    await dns.send(first, key=ZONE)
    await dns.send(second, key=ZONE)
    events = await dns.wait_events({"dns.record.created": 1, "dns.record.rejected": 1})
    rejected = next(e for e in events if e.type == "dns.record.rejected")
    assert "'loja' já é um CNAME" in rejected.payload.reason
    zone = await cloudflare.zone(ZONE)
    assert [r["type"] for r in zone["records"] if r["name"] == "loja.exemplo.com.br"] == ["CNAME"]
