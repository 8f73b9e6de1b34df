"""Pix BR Codes carry a valid CRC and every field the Banco Central requires."""

from __future__ import annotations

import base64
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hospeda.billing.pix import (
    PixError,
    build_payload,
    crc16,
    parse_fields,
    parse_payload,
    qr_png_data_uri,
    txid_for,
)
from hospeda.contracts import new_id


def test_crc16_ccitt_false_check_value() -> None:
    assert crc16("123456789") == "29B1"  # the published check value of CRC-16/CCITT-FALSE


def test_a_payload_published_elsewhere_checks_out() -> None:
    # a static BR Code from a Pix provider's documentation, not made by us
    text = (
        "00020126360014br.gov.bcb.pix0114+554199999999952040000530398654041.00"
        "5802BR5915Jamie Lannister6009Sao Paulo621005061234566304A63E"
    )
    code = parse_payload(text)
    assert (code.key, code.amount, code.txid) == ("+5541999999999", 100, "123456")


def test_our_payload_has_every_required_field_in_order() -> None:
    txid = txid_for(UUID("01234567-89ab-7def-8123-456789abcdef"))
    text = build_payload(
        key="financeiro@hospeda.com.br",
        merchant_name="Hospeda Hospedagem de Sites Ltda",
        merchant_city="São Paulo",
        amount=6470,
        txid=txid,
        message="Fatura 2026-000001",
    )
    fields = parse_fields(text)
    assert list(fields) == ["00", "01", "26", "52", "53", "54", "58", "59", "60", "62", "63"]
    assert fields["00"] == "01" and fields["01"] == "12"
    account = parse_fields(fields["26"])
    assert account["00"] == "br.gov.bcb.pix"
    assert account["01"] == "financeiro@hospeda.com.br"
    assert account["02"] == "Fatura 2026-000001"
    assert (fields["52"], fields["53"], fields["54"], fields["58"]) == (
        "0000",
        "986",
        "64.70",
        "BR",
    )
    assert fields["59"] == "Hospeda Hospedagem de Sit"  # at most 25 characters
    assert fields["60"] == "Sao Paulo"  # accents dropped, as payer apps expect
    assert parse_fields(fields["62"]) == {"05": txid}
    assert fields["63"] == crc16(text[:-4])
    assert len(txid) == 25 and txid.isalnum()
    assert parse_payload(text).amount == 6470


@given(
    key=st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=77),
    name=st.text(min_size=1, max_size=40).filter(
        lambda s: any(c.isascii() and c.isalnum() for c in s)
    ),
    city=st.text(min_size=1, max_size=30).filter(
        lambda s: any(c.isascii() and c.isalnum() for c in s)
    ),
    amount=st.integers(1, 10**11),
)
def test_any_valid_input_makes_a_payload_that_parses_back(
    key: str, name: str, city: str, amount: int
) -> None:
    txid = txid_for(new_id())
    text = build_payload(key=key, merchant_name=name, merchant_city=city, amount=amount, txid=txid)
    code = parse_payload(text)
    assert (code.key, code.amount, code.txid) == (key, amount, txid)
    assert len(code.merchant_name) <= 25 and len(code.merchant_city) <= 15


def test_a_changed_payload_fails_its_crc() -> None:
    text = build_payload(
        key="+5511999999999",
        merchant_name="Hospeda",
        merchant_city="Recife",
        amount=100,
        txid="ABC",
    )
    tampered = text.replace("1.00", "9.00")
    with pytest.raises(PixError, match="bad CRC"):
        parse_payload(tampered)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"txid": "has space"}, "txid"),
        ({"txid": "A" * 26}, "txid"),
        ({"key": ""}, "key"),
        ({"amount": 0}, "positive"),
    ],
)
def test_bad_input_cannot_make_a_payload(change: dict[str, object], message: str) -> None:
    args: dict[str, object] = {
        "key": "k",
        "merchant_name": "Hospeda",
        "merchant_city": "Recife",
        "amount": 100,
        "txid": "ABC",
        **change,
    }
    with pytest.raises(PixError, match=message):
        build_payload(**args)  # type: ignore[arg-type]


def test_txids_are_unique_per_payment() -> None:
    ids = {txid_for(new_id()) for _ in range(1000)}
    assert len(ids) == 1000


def test_the_qr_image_is_a_png() -> None:
    uri = qr_png_data_uri("000201")
    assert uri.startswith("data:image/png;base64,")
    assert base64.b64decode(uri.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
