"""One redaction for everything that is kept or shown: audit records, logs,
job errors, dead-letter reasons.

Secrets never leave the place that needs them. ``redact`` walks any JSON-like
value and replaces what is secret with ``REDACTED``, keeping the shape (a
reader still sees *that* a password changed, never what it became):

- values under keys that name a secret (password, token, secret, csrf, TOTP
  and recovery codes, session ids, API keys, card data);
- inside strings: query parameters and fragments that carry a token
  (``?token=…``, ``#token=…``, ``&session=…``), cPanel session paths
  (``/cpsess0123456789/``), provider keys (``sk_live_…``, ``whsec_…``,
  ``hsp_…``), Stripe client secrets, JSON Web Tokens, passwords in URLs
  (``https://user:pw@host``), bearer credentials and card numbers (13–19
  digits that pass the Luhn check).

``sanitise`` is what every store of records uses: ``redact``, then control
characters escaped (``escape_controls``) so that no text can start a forged
line in a log, an export or a terminal.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

REDACTED = "[redacted]"

SECRET_KEY = re.compile(
    r"pass(word|wd|phrase)?|secret|csrf|totp|otp$|recovery|token|api_?key|"
    r"authorization|cookie|session|_hash$|^hash_|^code$|signature|private|"
    r"card_?number|^pan$|^cvc$|^cvv$|security_code|^exp_(month|year)$",
    re.IGNORECASE,
)
"""Keys whose value is a secret, whatever it looks like."""

NOT_SECRET_KEY = re.compile(
    r"^(token_id|token_name|token_prefix|session_count|sessions_ended|"
    r"api_token_id|password_changed|has_password|totp_enabled|recovery_codes_left|"
    r"expires_minutes|.*_at|.*_count)$",
    re.IGNORECASE,
)
"""Keys that name a secret's *metadata* (an id, a count, a flag), kept as they are."""

_LINK_PARAMS = (
    r"token|access_token|refresh_token|id_token|code|session|sess|key|api_key|"
    r"secret|signature|sig|password|pass|otp|auth|ticket|nonce|state"
)
_URL_SECRET = re.compile(rf"(?i)([?&#;]({_LINK_PARAMS})=)[^&#\s\"'<>]+")
_CPANEL_SESSION = re.compile(r"(?i)/cpsess\d+")
_PROVIDER_KEY = re.compile(
    r"\b(sk|rk|pk)_(live|test)_[A-Za-z0-9]{8,}|\bwhsec_[A-Za-z0-9_]{8,}|"
    r"\bhsp_[A-Za-z0-9_\-]{8,}|\bcpsess\d{6,}\b"
)
_CLIENT_SECRET = re.compile(r"\b(pi|seti|src)_[A-Za-z0-9]{6,}_secret_[A-Za-z0-9]{6,}")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}")
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^/\s:@]+:)[^/\s@]+@")
_BEARER = re.compile(r"(?i)\b(bearer|basic|whm|cpanel)\s+[A-Za-z0-9._~+/=:\-]{8,}")
_CARD_CANDIDATE = re.compile(r"(?<!\d)(?:\d[ \-]?){12,18}\d(?!\d)")


def redact(value: Any) -> Any:
    """A copy of ``value`` with every secret replaced by ``REDACTED``."""
    if isinstance(value, Mapping):
        return {str(k): _redact_field(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def redact_text(text: str) -> str:
    """``text`` with tokens in links, provider keys, credentials and card
    numbers replaced (for log lines and error messages too)."""
    if not text:
        return text
    text = _URL_SECRET.sub(lambda m: m.group(1) + REDACTED, text)
    text = _CPANEL_SESSION.sub("/cpsess" + REDACTED, text)
    text = _PROVIDER_KEY.sub(REDACTED, text)
    text = _CLIENT_SECRET.sub(REDACTED, text)
    text = _JWT.sub(REDACTED, text)
    text = _URL_PASSWORD.sub(lambda m: m.group(1) + REDACTED + "@", text)
    text = _BEARER.sub(lambda m: m.group(1) + " " + REDACTED, text)
    return _CARD_CANDIDATE.sub(_card, text)


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED_CONTROLS = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_controls(text: str) -> str:
    """``text`` with CR, LF, tab and every other control character (C0, C1,
    line separators, bidirectional overrides) written as a visible escape."""
    return _CONTROL.sub(
        lambda m: _NAMED_CONTROLS.get(m.group(0)) or f"\\u{ord(m.group(0)):04x}", text
    )


def sanitise(value: Any) -> Any:
    """``redact(value)`` with control characters escaped in every string, keys too."""
    return _escape_all(redact(value))


def _escape_all(value: Any) -> Any:
    if isinstance(value, str):
        return escape_controls(value)
    if isinstance(value, Mapping):
        return {escape_controls(str(k)): _escape_all(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_escape_all(v) for v in value]
    return value


def is_secret_key(key: str) -> bool:
    """Whether the value under ``key`` is a secret by its name alone."""
    return bool(SECRET_KEY.search(key)) and not NOT_SECRET_KEY.match(key)


def _redact_field(key: str, value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if not is_secret_key(key):
        return redact(value)
    if isinstance(value, Mapping):
        return redact(value)
    if isinstance(value, list | tuple):
        return [_redact_field(key, v) for v in value]
    return REDACTED


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return REDACTED if _luhn(digits) else match.group(0)


def _luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        number = int(char)
        if index % 2 == 1:
            number *= 2
            if number > 9:
                number -= 9
        total += number
    return total % 10 == 0
