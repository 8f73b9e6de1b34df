"""The catalog: plans and add-ons, changed by staff, announced to the marketplace."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hospeda.billing import repository as repo
from hospeda.billing.domain import (
    InvalidInput,
    UnknownProduct,
    check_product,
)
from hospeda.billing.models import (
    Product,
)
from hospeda.billing.service.core import (
    SYSTEM,
    BillingCore,
    Unit,
    money,
    require_staff,
)
from hospeda.contracts import Actor
from hospeda.contracts import billing as msg
from hospeda.contracts.billing import BillingCycle, ProductKind
from hospeda.contracts.topics import (
    BILLING_CATALOG,
)


class CatalogUseCases(BillingCore):
    """Staff publish and retire plans and add-ons; the demo catalog is seeded once."""

    async def publish_product(
        self, u: Unit, *, actor: Actor, item: msg.PublishCatalogItem
    ) -> Product:
        """Create or change a plan or add-on and tell the marketplace."""
        require_staff(actor, "mudar o catálogo")
        prices = [price_row(p) for p in item.prices]
        check_product(
            code=item.code,
            kind=item.kind,
            recurring=item.recurring,
            prices=prices,
            whm_package=item.whm_package,
        )
        product = await repo.get(u.session, Product, item.code, lock=True)
        if product is None:
            product = Product(
                code=item.code, kind=item.kind.value, name=item.name, version=0, updated_at=u.now
            )
            u.session.add(product)
        elif product.kind != item.kind.value:
            raise InvalidInput(
                f"{item.code} já é um {product.kind}; use outro código / {item.code} is already a "
                f"{product.kind}; use another code"
            )
        product.name, product.description = item.name, item.description
        product.recurring, product.whm_package = item.recurring, item.whm_package
        product.family = item.family if item.kind is ProductKind.ADDON else None
        product.prices, product.active = prices, True
        product.version += 1
        product.updated_at = u.now
        u.emit(published_item(product), topic=BILLING_CATALOG, key=product.code, company_id=None)
        return product

    async def retire_product(self, u: Unit, *, actor: Actor, code: str) -> None:
        require_staff(actor, "mudar o catálogo")
        product = await repo.get(u.session, Product, code, lock=True)
        if product is None:
            raise UnknownProduct(f"Produto desconhecido: {code!r} / unknown product {code!r}")
        if not product.active:
            return
        product.active = False
        product.version += 1
        product.updated_at = u.now
        u.emit(msg.CatalogItemRetired(code=code), topic=BILLING_CATALOG, key=code, company_id=None)

    async def seed_catalog(self, u: Unit, items: Sequence[msg.PublishCatalogItem]) -> int:
        """Publish the items that do not exist yet (staff edits are kept)."""
        created = 0
        for item in items:
            if await repo.get(u.session, Product, item.code) is None:
                await self.publish_product(u, actor=SYSTEM, item=item)
                created += 1
        return created


def price_row(price: msg.Price) -> dict[str, Any]:
    if price.setup_fee is not None and price.setup_fee.currency != price.amount.currency:
        raise InvalidInput("A taxa de instalação deve ter a moeda do preço / setup fee currency")
    return {
        "cycle": price.cycle.value,
        "amount": price.amount.amount,
        "currency": price.amount.currency,
        "setup_fee": price.setup_fee.amount if price.setup_fee is not None else 0,
    }


def published_item(product: Product) -> msg.CatalogItemPublished:
    return msg.CatalogItemPublished(
        code=product.code,
        kind=ProductKind(product.kind),
        name=product.name,
        description=product.description,
        recurring=product.recurring,
        prices=tuple(
            msg.Price(
                cycle=BillingCycle(p["cycle"]),
                amount=money(p["amount"], p["currency"]),
                setup_fee=money(p["setup_fee"], p["currency"]) if p.get("setup_fee") else None,
            )
            for p in product.prices
        ),
        whm_package=product.whm_package,
        family=product.family,
        active=product.active,
    )
