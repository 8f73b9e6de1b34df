"""The Stripe simulator behaves like Stripe for the official SDK: parameter
checks, errors, idempotency keys, signed webhooks and faults on demand."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import stripe
import uvicorn
from billing_kit import API_KEY, WEBHOOK_SECRET, StripeSim
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hospeda.billing.adapters.stripe import (
    Declined,
    InvalidWebhook,
    StripeGateway,
    StripeRejected,
    StripeUnavailable,
)
from hospeda.billing.pix import parse_payload
from hospeda.billing.webhooks import _Server
from hospeda.devstack.servers import free_port
from hospeda.devstack.testing import eventually


def gateway(sim: StripeSim, *, key: str = API_KEY, timeout: float = 5) -> StripeGateway:
    return StripeGateway(
        secret_key=key, webhook_secret=WEBHOOK_SECRET, api_base=sim.url, timeout=timeout
    )


async def card(
    g: StripeGateway, payment_method: str | None, key: str, **extra: Any
) -> dict[str, Any]:
    args: dict[str, Any] = {
        "amount": 1990,
        "currency": "BRL",
        "method": "card",
        "customer": None,
        "payment_method": payment_method,
        "off_session": False,
        "save_card": False,
        "description": "Fatura 1",
        "metadata": {"invoice_id": "i-1"},
        "idempotency_key": key,
        "pix_expires_after_s": 3600,
        "return_url": None,
        **extra,
    }
    return await g.create_payment_intent(**args)


async def test_parameters_are_checked_as_stripe_does(stripe_sim: StripeSim) -> None:
    client = stripe.StripeClient(
        API_KEY, base_addresses={"api": stripe_sim.url}, max_network_retries=0
    )
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        await client.v1.payment_intents.create_async(
            {"amount": 100, "currency": "brl", "colour": "red"}
        )  # type: ignore[typeddict-unknown-key]
    assert unknown.value.code == "parameter_unknown" and unknown.value.param == "colour"
    with pytest.raises(stripe.InvalidRequestError) as missing:
        await client.v1.payment_intents.create_async({"currency": "brl"})  # type: ignore[typeddict-item]
    assert missing.value.code == "parameter_missing" and missing.value.param == "amount"
    with pytest.raises(stripe.InvalidRequestError) as small:
        await client.v1.payment_intents.create_async({"amount": 49, "currency": "brl"})
    assert small.value.code == "amount_too_small"
    with pytest.raises(stripe.InvalidRequestError, match="pix support the following currencies"):
        await client.v1.payment_intents.create_async(
            {"amount": 100, "currency": "usd", "payment_method_types": ["pix"]}
        )
    with pytest.raises(stripe.InvalidRequestError, match="No such customer"):
        await client.v1.payment_intents.create_async(
            {"amount": 100, "currency": "brl", "customer": "cus_nobody"}
        )
    with pytest.raises(stripe.AuthenticationError):
        await stripe.StripeClient(
            "sk_test_wrong", base_addresses={"api": stripe_sim.url}
        ).v1.customers.create_async({})


async def test_an_idempotency_key_replays_and_refuses_other_parameters(
    stripe_sim: StripeSim,
) -> None:
    g = gateway(stripe_sim)
    first = await card(g, "pm_card_visa", "same-key")
    again = await card(g, "pm_card_visa", "same-key")
    assert first["id"] == again["id"] and first["status"] == "succeeded"
    assert len((await stripe_sim.state())["charges"]) == 1
    with pytest.raises(StripeRejected, match="same parameters"):
        await card(g, "pm_card_visa", "same-key", amount=2990)


async def test_cards_decline_ask_for_3ds_and_off_session_needs_a_saved_card(
    stripe_sim: StripeSim,
) -> None:
    g = gateway(stripe_sim)
    with pytest.raises(Declined) as declined:
        await card(g, "pm_card_chargeDeclinedInsufficientFunds", "k1")
    assert declined.value.code == "card_declined"
    assert declined.value.payment_intent["status"] == "requires_payment_method"
    three_ds = await card(g, "pm_card_authenticationRequired", "k2", return_url="http://shop/back")
    assert three_ds["status"] == "requires_action"
    assert three_ds["next_action"]["type"] == "redirect_to_url"
    customer = await g.ensure_customer(company_id="c", email="a@b.co", idempotency_key="cus")
    with pytest.raises(StripeRejected, match="not attached"):
        await card(g, "pm_card_visa", "k3", customer=customer, off_session=True)
    await card(g, "pm_card_visa", "k4", customer=customer, save_card=True)
    saved = await card(g, "pm_card_visa", "k5", customer=customer, off_session=True)
    assert saved["status"] == "succeeded"


async def test_pix_shows_a_valid_br_code_and_can_be_paid_or_expire(stripe_sim: StripeSim) -> None:
    g = gateway(stripe_sim)
    intent = await card(g, None, "pix-1", method="pix", pix_expires_after_s=600)
    pix = intent["next_action"]["pix_display_qr_code"]
    assert intent["status"] == "requires_action"
    assert parse_payload(pix["data"]).amount == 1990
    assert pix["expires_at"] > 0 and pix["image_url_png"].endswith(".png")
    async with httpx.AsyncClient() as client:
        image = await client.get(pix["image_url_png"])
    assert image.content[:4] == b"\x89PNG"
    await stripe_sim.acontrol("POST", f"/_sim/payment_intents/{intent['id']}/pix/pay")
    assert (await g.retrieve_payment_intent(intent["id"]))["status"] == "succeeded"
    other = await card(g, None, "pix-2", method="pix")
    await stripe_sim.acontrol("POST", f"/_sim/payment_intents/{other['id']}/pix/expire")
    expired = await g.retrieve_payment_intent(other["id"])
    assert expired["status"] == "requires_payment_method"
    assert expired["last_payment_error"]["code"] == "payment_intent_payment_attempt_expired"


async def test_refunds_cannot_exceed_the_charge(stripe_sim: StripeSim) -> None:
    g = gateway(stripe_sim)
    paid = await card(g, "pm_card_visa", "r-pi")
    refund = await g.create_refund(
        payment_intent=paid["id"], amount=990, metadata={}, idempotency_key="r1"
    )
    assert refund["status"] == "succeeded"
    with pytest.raises(StripeRejected, match="greater than unrefunded"):
        await g.create_refund(
            payment_intent=paid["id"], amount=1001, metadata={}, idempotency_key="r2"
        )


async def test_faults_on_demand(stripe_sim: StripeSim) -> None:
    g = gateway(stripe_sim, timeout=1)
    await stripe_sim.fault("error", status=503)
    with pytest.raises(StripeUnavailable):
        await card(g, "pm_card_visa", "f1")
    assert (await card(g, "pm_card_visa", "f1"))["status"] == "succeeded"  # the failure did nothing
    await stripe_sim.fault("lost_response", seconds=2)
    with pytest.raises(StripeUnavailable):
        await card(g, "pm_card_visa", "f2")  # it went through, but we never heard
    await asyncio.sleep(0)
    replay = await card(g, "pm_card_visa", "f2")
    assert replay["status"] == "succeeded"
    charges = [c for c in (await stripe_sim.state())["charges"]]
    assert len(charges) == 2  # one for f1, one for f2: the retry did not charge again
    await stripe_sim.fault("timeout", seconds=2)
    with pytest.raises(StripeUnavailable):
        await card(g, "pm_card_visa", "f4")  # hung up before doing anything
    assert [c for c in (await stripe_sim.state())["charges"]] == charges
    await stripe_sim.fault("decline", decline_code="do_not_honor")
    with pytest.raises(Declined):
        await card(g, "pm_card_visa", "f3")


async def test_webhooks_are_signed_so_the_official_sdk_verifies_them(stripe_sim: StripeSim) -> None:
    received: list[tuple[bytes, str]] = []

    async def endpoint(request: Request) -> JSONResponse:
        received.append((await request.body(), request.headers["stripe-signature"]))
        return JSONResponse({"ok": True})

    port = free_port()
    server = _Server(
        uvicorn.Config(
            Starlette(routes=[Route("/hook", endpoint, methods=["POST"])]),
            port=port,
            log_level="warning",
        )
    )
    task = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: server.started, message="the test endpoint")
        await stripe_sim.acontrol(
            "POST", "/_sim/config", json={"webhook_url": f"http://127.0.0.1:{port}/hook"}
        )
        g = gateway(stripe_sim)
        intent = await card(g, "pm_card_visa", "w1", metadata={"payment_id": "p-1"})
        await eventually(lambda: len(received) >= 3, message="three events")
        kinds = [json.loads(body)["type"] for body, _ in received]
        assert kinds == ["payment_intent.created", "charge.succeeded", "payment_intent.succeeded"]
        body, signature = received[-1]
        event = g.verify_webhook(body, signature)
        assert event["data"]["object"]["id"] == intent["id"]
        stripe.WebhookSignature.verify_header(body.decode(), signature, WEBHOOK_SECRET, 300)
        with pytest.raises(InvalidWebhook):
            g.verify_webhook(body.replace(b"succeeded", b"SUCCEEDED"), signature)
        with pytest.raises(InvalidWebhook):
            gateway(stripe_sim).__class__(
                secret_key=API_KEY, webhook_secret="whsec_other", api_base=stripe_sim.url
            ).verify_webhook(body, signature)
    finally:
        server.should_exit = True
        await task
