"""The demo catalog `make run` starts with (``HOSPEDA_DEMO``): three plans,
each mapped to a WHM package, and the add-on marketplace. Seeded once;
what staff change afterwards is kept."""

from __future__ import annotations

from hospeda.contracts import Money
from hospeda.contracts.billing import BillingCycle, Price, ProductKind, PublishCatalogItem


def _prices(monthly: int, *, setup_fee: int = 0) -> tuple[Price, ...]:
    """Monthly price, with 5 %, 10 % and 20 % off for 3, 6 and 12 months
    (rounded to whole reais)."""
    fee = Money(amount=setup_fee) if setup_fee else None

    def total(months: int, discount: int) -> Money:
        cents = monthly * months * (100 - discount) // 100
        return Money(amount=cents - cents % 100 if cents >= 100 else cents)

    return (
        Price(cycle=BillingCycle.MONTHLY, amount=Money(amount=monthly), setup_fee=fee),
        Price(cycle=BillingCycle.QUARTERLY, amount=total(3, 5), setup_fee=fee),
        Price(cycle=BillingCycle.SEMIANNUAL, amount=total(6, 10), setup_fee=fee),
        Price(cycle=BillingCycle.ANNUAL, amount=total(12, 20), setup_fee=fee),
    )


DEMO_CATALOG: tuple[PublishCatalogItem, ...] = (
    PublishCatalogItem(
        code="basico",
        kind=ProductKind.PLAN,
        name="Básico",
        description="1 site, 10 GB SSD, 5 contas de e-mail",
        prices=_prices(1990),
        whm_package="hospeda_basico",
    ),
    PublishCatalogItem(
        code="profissional",
        kind=ProductKind.PLAN,
        name="Profissional",
        description="10 sites, 50 GB SSD, e-mails ilimitados",
        prices=_prices(3990),
        whm_package="hospeda_profissional",
    ),
    PublishCatalogItem(
        code="empresarial",
        kind=ProductKind.PLAN,
        name="Empresarial",
        description="Sites ilimitados, 200 GB NVMe, recursos dedicados",
        prices=_prices(8990, setup_fee=4900),
        whm_package="hospeda_empresarial",
    ),
    PublishCatalogItem(
        code="ssl",
        kind=ProductKind.ADDON,
        family="ssl",
        name="Certificado SSL",
        description="Certificado SSL com validação de domínio",
        prices=_prices(990),
    ),
    PublishCatalogItem(
        code="backup-pro",
        kind=ProductKind.ADDON,
        family="backup",
        name="Backup Pro",
        description="Backups diários guardados por 30 dias, restauração em um clique",
        prices=_prices(1490),
    ),
    PublishCatalogItem(
        code="email-pro",
        kind=ProductKind.ADDON,
        family="email",
        name="E-mail Profissional",
        description="Caixas de 25 GB com antispam e antivírus",
        prices=_prices(1290),
    ),
    PublishCatalogItem(
        code="email-business",
        kind=ProductKind.ADDON,
        family="email",
        name="E-mail Business",
        description="Caixas ilimitadas e até 2.000 envios por hora",
        prices=_prices(2490),
    ),
    PublishCatalogItem(
        code="ip-dedicado",
        kind=ProductKind.ADDON,
        family="dedicated-ip",
        name="IP dedicado",
        description="Um endereço IPv4 só para o seu site",
        prices=_prices(2500, setup_fee=5000),
    ),
    PublishCatalogItem(
        code="seguranca",
        kind=ProductKind.ADDON,
        family="security",
        name="Segurança",
        description="Firewall de aplicação e varredura diária de malware",
        prices=_prices(1990),
    ),
    PublishCatalogItem(
        code="migracao",
        kind=ProductKind.ADDON,
        family="migration",
        name="Migração assistida",
        description="Nossa equipe traz o seu site de outra hospedagem",
        recurring=False,
        prices=(Price(cycle=BillingCycle.ONE_TIME, amount=Money(amount=9900)),),
    ),
)
