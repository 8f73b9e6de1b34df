"""Settings: safe defaults locally, refusal of unsafe ones in production."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from rtkit import RuntimeTestSettings


def test_development_defaults_to_a_sqlite_file_per_service(tmp_path: Path) -> None:
    settings = RuntimeTestSettings(HOSPEDA_DATA_DIR=str(tmp_path))
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path}/rtsvc.db"
    assert settings.kafka_bootstrap_servers == "127.0.0.1:9092"


def test_production_refuses_sqlite_and_unreplicated_topics(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as refused:
        RuntimeTestSettings(HOSPEDA_ENV="production", HOSPEDA_DATA_DIR=str(tmp_path))
    assert "refusing to start in production" in str(refused.value)
    assert "DATABASE_URL must point at PostgreSQL" in str(refused.value)
    assert "HOSPEDA_TOPIC_REPLICATION must be at least 3" in str(refused.value)


def test_production_accepts_safe_settings() -> None:
    settings = RuntimeTestSettings(
        HOSPEDA_ENV="production",
        DATABASE_URL="postgresql://svc@db/rtsvc",
        HOSPEDA_TOPIC_REPLICATION=3,
        KAFKA_SECURITY_PROTOCOL="SASL_SSL",
        KAFKA_SASL_USERNAME="hospeda-rtsvc",
        KAFKA_SASL_PASSWORD="Zq8vN3k0uR2y7Lw1Pf5sXc9bTg4hJm6d",
    )
    assert settings.environment == "production"


@pytest.mark.parametrize("secret", ["", "short", "dev-" + "x" * 40, "please-change-me-" + "x" * 30])
def test_weak_secrets_are_recognised(secret: str) -> None:
    from pydantic import SecretStr

    assert RuntimeTestSettings.secret_is_weak(SecretStr(secret))


def test_a_strong_secret_is_accepted() -> None:
    from pydantic import SecretStr

    assert not RuntimeTestSettings.secret_is_weak(SecretStr("Zq8vN3k0uR2y7Lw1Pf5sXc9bTg4hJm6d"))
