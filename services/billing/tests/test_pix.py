"""Pix BR Codes carry a valid CRC and every field the Banco Central requires."""

from __future__ import annotations

import base64
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hospeda.billing.pix import (
    PixError,
    build_location,
    build_payload,
    build_static,
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


# The examples the Banco Central publishes in its BR Code manual (Manual de
# Padrões para Iniciação do Pix, §2.7): our builders must write them byte for byte.
MANUAL_STATIC = (
    "00020126580014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-426655440000"
    "5204000053039865802BR5913Fulano de Tal6008BRASILIA62070503***63041D3D"
)
MANUAL_DYNAMIC = (
    "00020101021226700014br.gov.bcb.pix2548pix.example.com/8b3da2f39a4140d1a91abd93113bd441"
    "5204000053039865802BR5913Fulano de Tal6008BRASILIA62070503***630464E4"
)


def test_the_manuals_static_example_is_what_we_build() -> None:
    built = build_static(
        key="123e4567-e12b-12d1-a456-426655440000",
        merchant_name="Fulano de Tal",
        merchant_city="BRASILIA",
    )
    assert built == MANUAL_STATIC
    code = parse_payload(MANUAL_STATIC)
    assert code.key == "123e4567-e12b-12d1-a456-426655440000"
    assert (code.one_time, code.txid, code.amount, code.location) == (False, None, None, None)


def test_the_manuals_dynamic_example_is_what_we_build() -> None:
    built = build_location(
        location="pix.example.com/8b3da2f39a4140d1a91abd93113bd441",
        merchant_name="Fulano de Tal",
        merchant_city="BRASILIA",
    )
    assert built == MANUAL_DYNAMIC
    code = parse_payload(MANUAL_DYNAMIC)
    assert code.location == "pix.example.com/8b3da2f39a4140d1a91abd93113bd441"
    assert (code.key, code.one_time, code.txid) == (None, True, None)


def test_a_static_code_may_carry_an_amount_and_a_message() -> None:
    text = build_static(
        key="+5511999999999",
        merchant_name="Hospeda",
        merchant_city="São Paulo",
        amount=4990,
        message="Doação",
    )
    code = parse_payload(text)
    assert (code.amount, code.one_time, code.txid, code.merchant_city) == (
        4990,
        False,
        None,
        "Sao Paulo",
    )
    assert "01" not in code.fields  # reusable: no point-of-initiation field


def test_our_invoice_code_is_one_time_with_its_txid() -> None:
    txid = txid_for(new_id())
    code = parse_payload(
        build_payload(key="k@x.com", merchant_name="H", merchant_city="C", amount=1, txid=txid)
    )
    assert (code.one_time, code.txid, code.key) == (True, txid, "k@x.com")


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("https://pix.example.com/cob/1", "without its scheme"),
        ("", "1 to 77"),
        ("p" * 78, "1 to 77"),
    ],
)
def test_a_bad_location_cannot_make_a_code(location: str, message: str) -> None:
    with pytest.raises(PixError, match=message):
        build_location(location=location, merchant_name="H", merchant_city="C")


def test_a_code_with_both_a_key_and_a_location_is_refused() -> None:
    account = "0014br.gov.bcb.pix0101k2503a/b"
    body = (
        f"00020101021226{len(account):02d}{account}5204000053039865802BR5901H6001C62070503***6304"
    )
    with pytest.raises(PixError, match="a key or a location"):
        parse_payload(body + crc16(body))


def test_an_unknown_point_of_initiation_is_refused() -> None:
    body = MANUAL_DYNAMIC[:-4].replace("010212", "010213", 1)
    with pytest.raises(PixError, match="point of initiation"):
        parse_payload(body + crc16(body))
