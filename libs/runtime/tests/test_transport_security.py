"""Kafka and Redis as production reaches them: TLS for real (Tansu behind a TLS
terminator), SASL/SCRAM credentials on every client, and the settings guard
refusing plaintext, anonymous or weakly protected transports.

The local broker speaks the SASL handshake only with ``--authentication``, and
then refuses the request that would create the first user (memory storage is
all its wheel offers), so SCRAM itself is checked on the clients' settings here
and for real against Apache Kafka by the deploy (see deploy/README.md)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import ValidationError
from rtkit import RuntimeTestSettings, audit_message, audit_router, create_effects, effects
from rtkit import make_settings as local_settings

from hospeda.contracts.topics import AUDIT_RECORDS
from hospeda.devstack.servers import free_port, start_broker
from hospeda.devstack.testing import eventually
from hospeda.runtime import outbox
from hospeda.runtime.broker import kafka_client_options, make_broker, make_producer
from hospeda.runtime.rpc import QueryClient
from hospeda.runtime.service import ServiceRuntime

STRONG = "Zq8vN3k0uR2y7Lw1Pf5sXc9bTg4hJm6d"
SCRAM = {
    "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "KAFKA_SASL_USERNAME": "hospeda-rtsvc",
    "KAFKA_SASL_PASSWORD": STRONG,
}


class RedisUsingSettings(RuntimeTestSettings):
    uses_redis = True


def production(**extra: Any) -> dict[str, Any]:
    return {
        "HOSPEDA_ENV": "production",
        "DATABASE_URL": "postgresql://rtsvc@db/rtsvc",
        "HOSPEDA_TOPIC_REPLICATION": 3,
        **extra,
    }


# --- the guard --------------------------------------------------------------------------------


def test_production_refuses_plaintext_kafka_without_credentials() -> None:
    with pytest.raises(ValidationError) as refused:
        RuntimeTestSettings(**production())
    text = str(refused.value)
    assert "KAFKA_SECURITY_PROTOCOL must be SASL_SSL" in text
    assert "KAFKA_SASL_USERNAME and a strong KAFKA_SASL_PASSWORD are required" in text


@pytest.mark.parametrize(
    "kafka",
    [
        {**SCRAM, "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"},  # credentials in clear text
        {**SCRAM, "KAFKA_SECURITY_PROTOCOL": "SSL"},  # encrypted but anonymous
        {**SCRAM, "KAFKA_SASL_PASSWORD": "short"},
        {**SCRAM, "KAFKA_SASL_USERNAME": ""},
        {**SCRAM, "KAFKA_SSL_CA_FILE": "/nonexistent/ca.crt"},
    ],
)
def test_production_refuses_every_weaker_kafka_connection(kafka: dict[str, str]) -> None:
    with pytest.raises(ValidationError, match="refusing to start in production"):
        RuntimeTestSettings(**production(**kafka))


@pytest.mark.parametrize(
    "url",
    [
        "redis://redis:6379/0",  # nobody
        f"redis://:{STRONG}@redis:6379/0",  # the default user's password, no ACL user
        "redis://gateway:short@redis:6379/0",
        "unix:///run/redis.sock",
    ],
)
def test_production_refuses_an_anonymous_redis_where_redis_is_used(url: str) -> None:
    with pytest.raises(ValidationError, match="REDIS_URL must name an ACL user"):
        RedisUsingSettings(**production(**SCRAM, REDIS_URL=url))
    assert RuntimeTestSettings(**production(**SCRAM, REDIS_URL=url))  # a service without Redis


def test_production_accepts_scram_over_tls_and_an_acl_user(tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    settings = RedisUsingSettings(
        **production(
            **SCRAM,
            KAFKA_SSL_CA_FILE=str(ca),
            REDIS_URL=f"rediss://hospeda-gateway:{STRONG}@redis:6380/0",
        )
    )
    assert settings.kafka_uses_sasl and settings.kafka_uses_tls
    assert STRONG not in repr(settings)


def test_the_local_stack_adds_nothing_to_the_clients() -> None:
    settings = RuntimeTestSettings(DATABASE_URL="sqlite+aiosqlite:///:memory:")
    assert settings.kafka_security_protocol == "PLAINTEXT"
    assert kafka_client_options(settings) == {}


# --- the credentials reach every client -------------------------------------------------------


async def test_scram_credentials_and_tls_reach_every_kafka_client() -> None:
    settings = RuntimeTestSettings(DATABASE_URL="sqlite+aiosqlite:///:memory:", **SCRAM)
    producer = make_producer(settings)
    broker = make_broker(settings)  # the FastStream consumers
    query_client = QueryClient(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        producer=producer,
        instance_id="t",
        client_options=kafka_client_options(settings),
    )
    for options in (
        {
            "security_protocol": producer.client._security_protocol,
            "sasl_mechanism": producer.client._sasl_mechanism,
            "sasl_plain_username": producer.client._sasl_plain_username,
            "sasl_plain_password": producer.client._sasl_plain_password,
            "ssl_context": producer.client._ssl_context,
        },
        broker._connection_kwargs,
        query_client.client_options,
    ):
        assert options["security_protocol"] == "SASL_SSL"
        assert options["sasl_mechanism"] == "SCRAM-SHA-512"
        assert (options["sasl_plain_username"], options["sasl_plain_password"]) == (
            "hospeda-rtsvc",
            STRONG,
        )
        context: ssl.SSLContext = options["ssl_context"]
        assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    await producer.stop()


# --- TLS for real -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Tls:
    ca: Path
    cert: Path
    key: Path


def _issue(directory: Path, name: str) -> Tls:
    """A CA and a certificate it signed for 127.0.0.1."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    tls = Tls(directory / f"{name}-ca.crt", directory / f"{name}.crt", directory / f"{name}.key")
    tls.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    tls.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    tls.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return tls


@dataclass
class TlsTerminator:
    """A TLS-only listener that hands the decrypted bytes to the broker, the
    way a TLS listener of Apache Kafka would take them."""

    port: int
    handshakes: int = 0


@contextlib.asynccontextmanager
async def tls_terminator(port: int, target: int, tls: Tls) -> AsyncIterator[TlsTerminator]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls.cert, tls.key)
    state = TlsTerminator(port)

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state.handshakes += 1
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", target)
        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

    server = await asyncio.start_server(serve, "127.0.0.1", port, ssl=context)
    try:
        yield state
    finally:
        server.close()


@pytest.fixture
async def tls_broker(tmp_path: Path) -> AsyncIterator[tuple[str, Tls]]:
    """A broker reachable only over TLS: its address and the CA that signed it."""
    tls = _issue(tmp_path, "broker")
    port = free_port()
    broker = start_broker(advertised_port=port, log_file=tmp_path / "tansu.log")
    try:
        async with tls_terminator(port, int(broker.url.rsplit(":", 1)[1]), tls):
            yield f"127.0.0.1:{port}", tls
    finally:
        broker.stop()


async def test_a_service_runs_over_tls_when_its_settings_say_so(
    tls_broker: tuple[str, Tls], database_url: str
) -> None:
    bootstrap, tls = tls_broker
    settings = local_settings(
        database_url, bootstrap, KAFKA_SECURITY_PROTOCOL="SSL", KAFKA_SSL_CA_FILE=str(tls.ca)
    )
    service = ServiceRuntime(settings, router=audit_router())
    await service.start()  # topics (admin client), producer and consumers: TLS only
    try:
        await create_effects(service.db)
        async with service.db.transaction() as session:
            outbox.add(session, audit_message("over.tls"), topic=AUDIT_RECORDS, key="c-1")

        async def applied() -> bool:
            return [e.action for e in await effects(service.db)] == ["over.tls"]

        await eventually(applied, message="the message made the round trip over TLS")
    finally:
        await service.stop()


async def test_a_broker_certificate_from_another_ca_is_refused(
    tls_broker: tuple[str, Tls], database_url: str, tmp_path: Path
) -> None:
    bootstrap, _ = tls_broker
    stranger = _issue(tmp_path, "stranger")
    settings = local_settings(
        database_url, bootstrap, KAFKA_SECURITY_PROTOCOL="SSL", KAFKA_SSL_CA_FILE=str(stranger.ca)
    )
    service = ServiceRuntime(settings, router=audit_router())
    with pytest.raises(KafkaConnectionError):
        await service.start()
    await service.db.dispose()
    await service.producer.stop()
