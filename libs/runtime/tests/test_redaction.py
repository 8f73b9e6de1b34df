"""The one redaction: secrets never reach audit records, logs or error texts."""

from __future__ import annotations

import pytest

from hospeda.runtime.redaction import REDACTED, escape_controls, redact, redact_text, sanitise


@pytest.mark.parametrize(
    ("text", "kept", "gone"),
    [
        ("http://localhost:8000/conta/verificar?token=abc123&x=1", "x=1", "abc123"),
        ("https://app/conta/redefinir#token=zz9zz9", "/conta/redefinir", "zz9zz9"),
        ("https://s1.example:2083/cpsess8765432101/frontend/jupiter", "/frontend", "8765432101"),
        ("key sk_live_51Habcdefghijklmn in the log", "in the log", "sk_live_51H"),
        ("whsec_abcdef123456 leaked", "leaked", "whsec_abcdef"),
        ("Authorization: Bearer abc.def.ghi123", "Authorization", "abc.def.ghi123"),
        ("card 4242 4242 4242 4242 declined", "declined", "4242 4242"),
        ("api token hsp_AbCdEf0123456789 used", "used", "hsp_AbCdEf"),
        ("confirm pi_3Nabc123DEF_secret_XyZ987abc now", "now", "_secret_XyZ987"),
        (
            "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N ok",
            "ok",
            "dozjgNryP4J3",
        ),
        ("ftp https://root:s3nh4-f0rte@whm1.example:2087/json", "whm1.example", "s3nh4-f0rte"),
    ],
)
def test_secrets_inside_text_are_replaced(text: str, kept: str, gone: str) -> None:
    redacted = redact_text(text)
    assert kept in redacted
    assert gone not in redacted
    assert REDACTED in redacted


def test_numbers_that_are_not_cards_stay() -> None:
    assert redact_text("invoice 12345678901234 of 2026") == "invoice 12345678901234 of 2026"


def test_secret_keys_keep_their_place_and_lose_their_value() -> None:
    before = {
        "password": "hunter2",
        "new_password_hash": "$argon2id$...",
        "totp_secret": "JBSWY3DPEHPK3PXP",
        "recovery_codes": ["a1b2", "c3d4"],
        "csrf_token": "t",
        "profile": {"name": "Ana", "api_key": "k-1"},
        "token_id": "0190",
        "totp_enabled": True,
        "expires_minutes": 30,
        "links": [{"href": "https://x/?token=s3cr3t"}],
    }
    after = redact(before)
    assert after["password"] == REDACTED
    assert after["new_password_hash"] == REDACTED
    assert after["totp_secret"] == REDACTED
    assert after["recovery_codes"] == [REDACTED, REDACTED]
    assert after["csrf_token"] == REDACTED
    assert after["profile"] == {"name": "Ana", "api_key": REDACTED}
    assert after["token_id"] == "0190"
    assert after["totp_enabled"] is True
    assert after["expires_minutes"] == 30
    assert "s3cr3t" not in str(after["links"])
    assert before["password"] == "hunter2"  # the input is not changed


def test_control_characters_cannot_start_a_forged_line() -> None:
    forged = "Mozilla\r\n2026-12-01T00:00:00Z staff:1 user.login ok\x1b[2K\u2028\u202e"
    escaped = escape_controls(forged)
    assert "\n" not in escaped and "\r" not in escaped and "\x1b" not in escaped
    assert "\u2028" not in escaped and "\u202e" not in escaped
    assert escaped.startswith("Mozilla\\r\\n2026")  # still readable, visibly escaped
    assert "\\u001b" in escaped


def test_sanitise_redacts_and_escapes_keys_and_values() -> None:
    value = {"note\n": ["a\tb", {"password": "x", "link": "https://a/?token=zz\r\n"}]}
    assert sanitise(value) == {
        "note\\n": ["a\\tb", {"password": REDACTED, "link": f"https://a/?token={REDACTED}\\r\\n"}]
    }
