"""Provisioning's pure rules: domains, usernames by WHM's rules, placement,
the service's life cycle, settings that production refuses."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError

from hospeda.provisioning import domain
from hospeda.provisioning.config import ProvisioningSettings, WhmServerSettings
from hospeda.provisioning.domain import Action, InvalidInput, InvalidTransition, ServerLoad
from hospeda.provisioning.workflows import cpanel_url


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("Exemplo.com.BR", "exemplo.com.br"),
        ("loja.com.br.", "loja.com.br"),
        ("café.com.br", "xn--caf-dma.com.br"),
        ("a-b.xn--p1ai", "a-b.xn--p1ai"),
    ],
)
def test_domains_are_normalised(raw: str, normal: str) -> None:
    assert domain.normalize_domain(raw) == normal


@pytest.mark.parametrize(
    "raw",
    [
        "exa mple.com",
        "localhost",
        "192.0.2.1",
        "-a.com",
        "a..com",
        "exemplo.c0m",
        "",
        "a" * 64 + ".com",
    ],
)
def test_bad_domains_are_refused_with_the_reason(raw: str) -> None:
    with pytest.raises(InvalidInput, match="domínio inválido / invalid domain"):
        domain.normalize_domain(raw)


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("exemplo", None),
        ("Exemplo", "minúsculas"),
        ("1loja", "começando por letra"),
        ("teste", "test"),
        ("root", "reservado"),
        ("a" * 17, "16"),
        ("loja_1", "minúsculas"),
    ],
)
def test_username_rules(name: str, problem: str | None) -> None:
    found = domain.username_problem(name)
    assert (found is None) if problem is None else (problem in (found or ""))


@pytest.mark.parametrize(
    ("domain_name", "base"),
    [
        ("loja-da-ana.com.br", "lojadaan"),
        ("123.com", "h123"),
        ("testando.com.br", "tando"),
        ("www.exemplo.com", "exemplo"),
        ("root.com", "rooth"),
        ("xn--caf-dma.com.br", "cafdma"),
    ],
)
def test_username_stems(domain_name: str, base: str) -> None:
    assert domain.username_base(domain_name) == base


@given(st.from_regex(r"[a-z0-9][a-z0-9-]{0,30}\.(com|com\.br|net|io)", fullmatch=True))
def test_every_generated_username_follows_whms_rules(domain_name: str) -> None:
    candidates = [
        c for _, c in zip(range(105), domain.username_candidates(domain_name), strict=False)
    ]
    assert len(set(candidates)) == len(candidates)
    for candidate in candidates:
        assert domain.username_problem(candidate) is None, candidate
        assert len(candidate) <= domain.USERNAME_PREFIX_UNIQUE


def test_generated_passwords_are_strong_and_different() -> None:
    passwords = {domain.generate_password() for _ in range(50)}
    assert len(passwords) == 50
    for password in passwords:
        assert len(password) == 24
        assert any(c.isupper() for c in password) and any(c.islower() for c in password)
        assert any(c.isdigit() for c in password) and any(not c.isalnum() for c in password)


def _load(
    name: str, accounts: int, max_accounts: int, *packages: str, active: bool = True
) -> ServerLoad:
    return ServerLoad(name, active, max_accounts, accounts, packages or ("basico",))


def test_the_least_loaded_fitting_server_is_chosen() -> None:
    servers = [
        _load("a", 5, 10),  # half full
        _load("b", 30, 100),  # less full by proportion
        _load("c", 0, 10, active=False),  # takes no new accounts
        _load("d", 0, 10, "outro"),  # does not offer the package
    ]
    chosen = domain.choose_server(servers, plan_code="p", whm_package="basico")
    assert chosen is not None and chosen.name == "b"
    full = [_load("a", 10, 10), _load("b", 100, 100)]
    assert domain.choose_server(full, plan_code="p", whm_package="basico") is None
    with pytest.raises(
        InvalidInput, match="plano desconhecido: nenhum servidor oferece o pacote WHM 'ouro'"
    ):
        domain.choose_server(servers, plan_code="p", whm_package="ouro")


def test_the_service_life_cycle() -> None:
    assert domain.check("pending", Action.ACTIVATE) == "active"
    assert domain.check("failed", Action.ACTIVATE) == "active"  # an operator's retry
    assert domain.check("active", Action.SUSPEND) == "suspended"
    assert domain.check("suspended", Action.SUSPEND) == "suspended"  # repeating is harmless
    assert domain.check("suspended", Action.UNSUSPEND) == "active"
    assert domain.check("suspended", Action.MODIFY) == "suspended"
    assert domain.check("failed", Action.TERMINATE) == "terminated"
    with pytest.raises(
        InvalidTransition, match="o serviço está em criação; não é possível suspend"
    ):
        domain.check("pending", Action.SUSPEND)
    with pytest.raises(InvalidTransition):
        domain.check("terminated", Action.UNSUSPEND)


def test_cpanel_is_offered_where_whm_is() -> None:
    assert cpanel_url("https://whm1.hospeda.com.br:2087") == "https://whm1.hospeda.com.br:2083"
    assert cpanel_url("http://127.0.0.1:41234") == "http://127.0.0.1:41234"


def test_production_refuses_unsafe_provisioning_settings() -> None:
    server = WhmServerSettings(
        name="whm1",
        url="http://whm1:2087",
        token=SecretStr("short"),
        packages=("basico",),
        verify_tls=False,
    )
    with pytest.raises(ValidationError, match="refusing to start in production") as refused:
        ProvisioningSettings(
            HOSPEDA_ENV="production",
            DATABASE_URL="postgresql://db/provisioning",
            HOSPEDA_TOPIC_REPLICATION=3,
            whm_servers=(server,),
        )
    text = str(refused.value)
    assert "PROVISIONING_CREDENTIALS_KEY" in text
    assert "whm1 must be reached over https://" in text
    assert "whm1 must verify TLS" in text
    assert "whm1 needs a real API token" in text
