"""Billing as its own process in the whole platform: an order is paid by
card through the Stripe simulator, whose signed webhook reaches billing's
ingress, and the account is handed to provisioning."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from hospeda.contracts import Actor, Envelope, Money, decode, new_id
from hospeda.contracts.billing import (
    BillingCycle,
    PayInvoice,
    PaymentMethod,
    PlaceOrder,
    Price,
    ProductKind,
    PublishCatalogItem,
)
from hospeda.contracts.topics import BILLING_COMMANDS, PROVISIONING_COMMANDS
from hospeda.devstack.stack import Stack
from hospeda.runtime.broker import publish
from hospeda.runtime.rpc import QueryClient

pytestmark = pytest.mark.e2e


async def until(check: Any, *, timeout: float = 60) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {check.__name__}")
        await asyncio.sleep(0.2)


async def test_an_order_paid_by_card_reaches_provisioning(
    platform: Stack, kafka_bootstrap: str
) -> None:
    company = new_id()
    customer = Actor(kind="user", id="e2e-user")
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    queries = QueryClient(
        bootstrap_servers=kafka_bootstrap, producer=producer, instance_id="e2e-billing"
    )
    await queries.start()
    commands = AIOKafkaConsumer(
        PROVISIONING_COMMANDS.name,
        bootstrap_servers=kafka_bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await commands.start()
    try:

        async def send(payload: Any, actor: Actor = customer) -> None:
            envelope = Envelope.of(payload, actor=actor, company_id=company)
            await publish(producer, envelope, topic=BILLING_COMMANDS, key=company)

        await send(
            PublishCatalogItem(
                code="e2e-plan",
                kind=ProductKind.PLAN,
                name="E2E",
                prices=(Price(cycle=BillingCycle.MONTHLY, amount=Money(amount=2500)),),
                whm_package="e2e_pkg",
            ),
            Actor(kind="staff", id="e2e-staff"),
        )
        order = PlaceOrder(
            order_id=new_id(),
            plan_code="e2e-plan",
            domain="e2e-loja.com.br",
            cycle=BillingCycle.MONTHLY,
            contact_email="dono@e2e-loja.com.br",
        )
        await send(order)

        async def invoice() -> Any:
            try:
                got = await queries.ask(
                    "billing",
                    "orders.get",
                    {"order_id": str(order.order_id)},
                    actor=customer,
                    company_id=company,
                )
            except Exception:
                return None
            return got["invoice"]

        issued = await until(invoice)
        assert issued["total"] == {"amount": 2500, "currency": "BRL"}
        await send(
            PayInvoice(
                invoice_id=issued["id"],
                method=PaymentMethod.CARD,
                payment_method_ref="pm_card_visa",
            )
        )

        async def create_account() -> Any:
            batch = await commands.getmany(timeout_ms=200)
            for records in batch.values():
                for record in records:
                    envelope = decode(record.value)
                    if envelope.type == "provisioning.create_account":
                        return envelope
            return None

        created = await until(create_account)
        assert created.payload.domain == "e2e-loja.com.br"
        assert created.payload.whm_package == "e2e_pkg"
        assert created.company_id == company

        async def paid() -> bool:
            got = await queries.ask(
                "billing",
                "invoices.get",
                {"invoice_id": issued["id"]},
                actor=customer,
                company_id=company,
            )
            return got["status"] == "paid" and got["payments"][0]["provider_reference"].startswith(
                "pi_"
            )

        await until(paid)
    finally:
        await commands.stop()
        await queries.stop()
        await producer.stop()
