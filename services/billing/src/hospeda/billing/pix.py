"""Pix BR Code ("copia e cola" and its QR image), built to the Banco Central
do Brasil's *Manual de Padrões para Iniciação do Pix* — an EMV® QRCPS
merchant-presented payload:

====  ===============================  =====================================
 id    field                            value
====  ===============================  =====================================
 00    Payload Format Indicator         ``01`` (first field)
 01    Point of Initiation Method       ``12``: meant for one payment; left out
                                        of a static (reusable) code, as the
                                        manual's own static example does
 26    Merchant Account Information     00 GUI ``br.gov.bcb.pix``, then either
                                        01 the Pix key (+ 02 optional message)
                                        or 25 the PSP's location URL (dynamic
                                        code of the API Pix, no ``https://``)
 52    Merchant Category Code           ``0000``
 53    Transaction Currency             ``986`` (BRL, ISO 4217)
 54    Transaction Amount               ``123.45`` (dot, no thousands)
 58    Country Code                     ``BR``
 59    Merchant Name                    up to 25 characters
 60    Merchant City                    up to 15 characters
 62    Additional Data Field Template   05 Reference Label: the txid (≤ 25
                                        alphanumerics), ``***`` when there is none
                                        (static codes, and location codes whose
                                        txid the PSP's payload carries)
 63    CRC                              CRC16-CCITT-FALSE of everything before
                                        it, ``6304`` included; 4 upper-case hex digits
====  ===============================  =====================================

Each field is ``id`` (2 digits) + length (2 digits) + value.

Three kinds are built and parsed: the one-time code with our key and the
payment's txid (``build_payload``, used for invoices), the static reusable code
(``build_static``: no txid, optional amount) and the dynamic code that carries
a PSP's location URL instead of a key (``build_location``). The manual's
published examples are in the tests, byte for byte.
"""

from __future__ import annotations

import base64
import io
import re
import unicodedata
from dataclasses import dataclass
from uuid import UUID

import segno

GUI = "br.gov.bcb.pix"
NO_TXID = "***"  # the manual's "no reference label" value
_TXID = re.compile(r"^[A-Za-z0-9]{1,25}$")


class PixError(ValueError):
    """A payload that is not a valid BR Code, or data that cannot make one."""


def crc16(data: str) -> str:
    """CRC16-CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final
    xor) of ``data``'s UTF-8 bytes, as 4 upper-case hex digits."""
    crc = 0xFFFF
    for byte in data.encode():
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return f"{crc:04X}"


def _field(field_id: str, value: str) -> str:
    if len(value) > 99:
        raise PixError(f"field {field_id} longer than 99 characters")
    return f"{field_id}{len(value):02d}{value}"


def _plain(text: str, limit: int) -> str:
    """Letters without accents, as payer apps expect (``São Paulo`` → ``Sao Paulo``)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"\s+", " ", ascii_text).strip()
    if not cleaned:
        raise PixError(f"{text!r} has no printable characters")
    return cleaned[:limit]


def format_amount(cents: int) -> str:
    if cents <= 0:
        raise PixError("a Pix amount must be positive")
    return f"{cents // 100}.{cents % 100:02d}"


def _key_account(key: str, message: str | None) -> str:
    if not key or len(key) > 77:
        raise PixError("the Pix key must have 1 to 77 characters")
    account = _field("00", GUI) + _field("01", key)
    if message:
        room = 99 - len(account) - 4
        if room > 0:
            account += _field("02", _plain(message, min(room, 72)))
    return account


def _assemble(
    *,
    one_time: bool,
    account: str,
    merchant_name: str,
    merchant_city: str,
    amount: int | None,
    txid: str,
) -> str:
    payload = (
        _field("00", "01")
        + (_field("01", "12") if one_time else "")
        + _field("26", account)
        + _field("52", "0000")
        + _field("53", "986")
        + (_field("54", format_amount(amount)) if amount is not None else "")
        + _field("58", "BR")
        + _field("59", _plain(merchant_name, 25))
        + _field("60", _plain(merchant_city, 15))
        + _field("62", _field("05", txid))
        + "6304"
    )
    return payload + crc16(payload)


def build_payload(
    *,
    key: str,
    merchant_name: str,
    merchant_city: str,
    amount: int | None,
    txid: str,
    message: str | None = None,
) -> str:
    """The one-time "copia e cola" text for a payment of ``amount`` cents to
    ``key``, reconciled by its ``txid``."""
    if not _TXID.match(txid):
        raise PixError("the txid must be 1 to 25 letters or digits")
    return _assemble(
        one_time=True,
        account=_key_account(key, message),
        merchant_name=merchant_name,
        merchant_city=merchant_city,
        amount=amount,
        txid=txid,
    )


def build_static(
    *,
    key: str,
    merchant_name: str,
    merchant_city: str,
    amount: int | None = None,
    message: str | None = None,
) -> str:
    """A static code anyone may pay many times (a shop counter, a donation):
    no point-of-initiation field, no txid (``***``), the amount optional."""
    return _assemble(
        one_time=False,
        account=_key_account(key, message),
        merchant_name=merchant_name,
        merchant_city=merchant_city,
        amount=amount,
        txid=NO_TXID,
    )


def build_location(*, location: str, merchant_name: str, merchant_city: str) -> str:
    """A dynamic code of the API Pix: it carries the PSP's location (``loc``)
    URL, without ``https://``, where the payer's bank fetches the signed charge
    with its amount and txid; so the code itself has neither."""
    if location.startswith(("http://", "https://")):
        raise PixError("the location URL is written without its scheme")
    if not location or len(location) > 77:
        raise PixError("the location URL must have 1 to 77 characters")
    return _assemble(
        one_time=True,
        account=_field("00", GUI) + _field("25", location),
        merchant_name=merchant_name,
        merchant_city=merchant_city,
        amount=None,
        txid=NO_TXID,
    )


def parse_fields(text: str) -> dict[str, str]:
    """Split an EMV TLV string into ``{id: value}`` (first level only)."""
    fields: dict[str, str] = {}
    i = 0
    while i < len(text):
        if i + 4 > len(text) or not text[i : i + 4].isdigit():
            raise PixError(f"malformed field at position {i}")
        field_id, length = text[i : i + 2], int(text[i + 2 : i + 4])
        value = text[i + 4 : i + 4 + length]
        if len(value) != length:
            raise PixError(f"field {field_id} is shorter than its length {length}")
        if field_id in fields:
            raise PixError(f"field {field_id} appears twice")
        fields[field_id] = value
        i += 4 + length
    return fields


@dataclass(frozen=True)
class BrCode:
    """A parsed, checked BR Code."""

    key: str | None  # None in a location code
    location: str | None  # the PSP's charge URL (dynamic API Pix code)
    one_time: bool  # point of initiation 12; a static code may be paid again
    amount: int | None
    merchant_name: str
    merchant_city: str
    txid: str | None  # None when the code says ``***``
    fields: dict[str, str]


def parse_payload(text: str) -> BrCode:
    """Parse and check a BR Code: CRC, mandatory fields, Pix GUI, BRL."""
    if len(text) < 8 or text[-8:-4] != "6304":
        raise PixError("the payload must end with the CRC field 63")
    if crc16(text[:-4]) != text[-4:].upper():
        raise PixError(f"bad CRC: expected {crc16(text[:-4])}, found {text[-4:]}")
    fields = parse_fields(text)
    if next(iter(fields)) != "00" or fields["00"] != "01":
        raise PixError("field 00 (payload format) must come first and be 01")
    for required in ("26", "52", "53", "58", "59", "60", "62", "63"):
        if required not in fields:
            raise PixError(f"mandatory field {required} is missing")
    if fields.get("01", "11") not in ("11", "12"):  # absent: a static, reusable code
        raise PixError("field 01 (point of initiation) must be 11 or 12")
    account = parse_fields(fields["26"])
    if account.get("00", "").lower() != GUI or ("01" in account) == ("25" in account):
        raise PixError("field 26 must carry the br.gov.bcb.pix GUI and a key or a location")
    if fields["53"] != "986" or fields["58"] != "BR":
        raise PixError("currency must be 986 and country BR")
    extra = parse_fields(fields["62"])
    if "05" not in extra:
        raise PixError("field 62 must carry a reference label (05)")
    amount = None
    if "54" in fields:
        if not re.fullmatch(r"\d+\.\d{2}", fields["54"]):
            raise PixError("field 54 must look like 123.45")
        units, cents = fields["54"].split(".")
        amount = int(units) * 100 + int(cents)
    return BrCode(
        key=account.get("01"),
        location=account.get("25"),
        one_time=fields.get("01") == "12",
        amount=amount,
        merchant_name=fields["59"],
        merchant_city=fields["60"],
        txid=None if extra["05"] == NO_TXID else extra["05"],
        fields=fields,
    )


def qr_png_data_uri(payload: str, *, scale: int = 6) -> str:
    """The payload as a QR code PNG, inline (``data:image/png;base64,…``)."""
    buffer = io.BytesIO()
    segno.make(payload, error="m", micro=False).save(buffer, kind="png", scale=scale, border=2)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def qr_svg(payload: str, *, scale: int = 4) -> str:
    """The payload as a QR code SVG document."""
    buffer = io.BytesIO()
    segno.make(payload, error="m", micro=False).save(buffer, kind="svg", scale=scale, border=2)
    return buffer.getvalue().decode()


def txid_for(payment_id: UUID) -> str:
    """The txid of a payment: its 128-bit id in base 36 — exactly 25
    alphanumerics, unique per payment and reversible."""
    value, digits = payment_id.int, []
    while value:
        value, digit = divmod(value, 36)
        digits.append(_BASE36[digit])
    return "".join(reversed(digits)).rjust(25, "0")


_BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
