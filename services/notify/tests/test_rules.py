"""Notify's pure rules: who may be told what where, quiet hours, alert pacing,
safe text, signed unsubscribe links, and settings production refuses."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from uuid import uuid4

import pytest
from pydantic import SecretStr

from hospeda.contracts.notify import Category, Channel, Urgency
from hospeda.notify import domain
from hospeda.notify.config import NotifySettings
from hospeda.notify.domain import Preferences, QuietHours, escape_controls, notice, wants
from hospeda.notify.links import Links
from hospeda.notify.templates import SAMPLES, TEMPLATES, render


def test_security_and_essential_billing_e_mails_cannot_be_turned_off() -> None:
    everything_off = Preferences(
        {(c, ch): False for c in Category for ch in (Channel.EMAIL, Channel.PUSH)}
    )
    assert wants(notice("password-reset"), Channel.EMAIL, everything_off)
    assert wants(notice("invoice-overdue"), Channel.EMAIL, everything_off)  # essential
    assert not wants(notice("invoice-overdue"), Channel.PUSH, everything_off)
    assert not wants(notice("invoice-paid"), Channel.EMAIL, everything_off)
    assert not wants(notice("service-active"), Channel.PUSH, everything_off)
    assert not wants(notice("password-reset"), Channel.PUSH, Preferences())  # e-mail only
    assert not Preferences().enabled(Category.MARKETING, Channel.EMAIL)  # opt-in
    with pytest.raises(domain.SettingRefused, match="cannot be turned off"):
        domain.check_preference(Category.LEGAL, Channel.EMAIL, False)
    assert not domain.unsubscribable(notice("invoice-issued"))
    assert domain.unsubscribable(notice("delegation-lost"))


@pytest.mark.parametrize(
    ("local", "held_until"),
    [
        ("2026-06-15T23:30", "2026-06-16T07:00"),  # before midnight
        ("2026-06-16T03:00", "2026-06-16T07:00"),  # after midnight
        ("2026-06-16T07:00", None),  # the end is not quiet
        ("2026-06-16T12:00", None),
    ],
)
def test_quiet_hours_hold_a_push_until_they_end_in_the_persons_zone(
    local: str, held_until: str | None
) -> None:
    zone = "America/Sao_Paulo"
    now = datetime.fromisoformat(local).replace(tzinfo=domain.time_zone(zone)).astimezone(UTC)
    quiet = QuietHours(time(22), time(7))
    held = domain.push_held_until(now, zone, quiet, Urgency.NORMAL)
    expected = (
        datetime.fromisoformat(held_until).replace(tzinfo=domain.time_zone(zone))
        if held_until
        else None
    )
    assert held == expected
    assert domain.push_held_until(now, zone, quiet, Urgency.HIGH) is None  # urgent: never held


def test_quiet_hours_end_on_the_right_wall_clock_across_a_dst_change() -> None:
    zone = "America/New_York"  # DST starts 2026-03-08 at 02:00
    now = datetime(2026, 3, 7, 23, 0, tzinfo=domain.time_zone(zone)).astimezone(UTC)
    held = domain.push_held_until(now, zone, QuietHours(time(22), time(7)), Urgency.LOW)
    assert held is not None
    assert held.astimezone(domain.time_zone(zone)).hour == 7
    assert held - now == timedelta(hours=7)  # one hour less than the wall clock says


def test_alerts_are_paced_one_notice_per_window() -> None:
    window = timedelta(minutes=15)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    first = domain.pace_alert(start, None, window)
    assert first.notify_now and first.digest_at == start + window
    again = domain.pace_alert(start + timedelta(minutes=5), first.window_started_at, window)
    assert not again.notify_now and again.digest_at == start + window
    later = domain.pace_alert(start + window, first.window_started_at, window)
    assert later.notify_now
    assert domain.alert_key("provisioning", {"kind": "create-account"}) == (
        "provisioning:create-account"
    )
    assert domain.alert_key("dns", {"alert_key": "cloudflare:outage"}) == "cloudflare:outage"


def test_control_characters_are_made_visible() -> None:
    assert escape_controls("Ana\r\nBcc: x@y") == "Ana\\u000d\\u000aBcc: x@y"
    assert escape_controls("a\u202eb\x1b[2J") == "a\\u202eb\\u001b[2J"
    assert escape_controls("linha 1\r\nlinha 2\x00", multiline=True) == "linha 1\nlinha 2\\u0000"
    assert escape_controls("👩\u200d💻 São Paulo") == "👩\u200d💻 São Paulo"  # joiners stay
    message = render("service-active", "pt-BR", {"domain": "a.com\r\nBcc: x@y"})
    assert "\r" not in message.subject and "\n" not in message.subject


def test_every_template_renders_in_both_languages_with_its_sample() -> None:
    assert set(TEMPLATES) == set(domain.NOTICES) == set(SAMPLES)
    for name, sample in SAMPLES.items():
        for locale in ("pt-BR", "en"):
            message = render(name, locale, dict(sample))
            assert message.subject and message.summary and "<html>" in message.html, name
            assert "{" not in message.subject + message.body, (name, locale)


def test_unsubscribe_links_are_signed() -> None:
    links = Links("https://app.hospeda.com.br", SecretStr("um-segredo-bem-comprido-e-estavel-123"))
    user = uuid4()
    token = links.unsubscribe_token(user, Category.MARKETING)
    assert links.read_unsubscribe_token(token) == (user, Category.MARKETING)
    mac = token.split(".")[1]
    other = links.unsubscribe_token(uuid4(), Category.MARKETING)
    assert links.read_unsubscribe_token(f"{other.split('.')[0]}.{mac}") is None  # forged
    assert links.read_unsubscribe_token("nada") is None
    elsewhere = Links("https://app.hospeda.com.br", SecretStr("outro-segredo-bem-comprido-456789"))
    assert elsewhere.read_unsubscribe_token(token) is None


def test_production_refuses_unsafe_mail_and_push_settings() -> None:
    with pytest.raises(ValueError, match="refusing to start in production") as refused:
        NotifySettings(HOSPEDA_ENV="production", DATABASE_URL="postgresql://db/notify")
    text = str(refused.value)
    for needed in (
        "NOTIFY_SMTP_STARTTLS",
        "NOTIFY_SMTP_PASSWORD",
        "NOTIFY_VAPID_PRIVATE_KEY",
        "NOTIFY_UNSUBSCRIBE_SECRET",
        "NOTIFY_APP_URL",
    ):
        assert needed in text
    settings = NotifySettings(HOSPEDA_ENV="test", smtp_password="uma-senha-smtp")
    shown = repr(settings) + str(settings.model_dump())
    assert settings.vapid_private_key is not None  # generated outside production
    assert settings.vapid_private_key.get_secret_value() not in shown
    assert "uma-senha-smtp" not in shown
