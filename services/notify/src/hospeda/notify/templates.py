"""The messages notify knows how to write, in pt-BR (first) and English.

Senders give a template name and data; a value missing from the data is
left blank rather than failing the notification. ``amount_cents`` with
``currency`` becomes a formatted ``amount``. One text makes every form: the
e-mail's plain-text and HTML parts, the push and the inbox item.
"""

from __future__ import annotations

import html
import re
import string
from dataclasses import dataclass
from typing import Any

from hospeda.notify.domain import clean_data, escape_controls, notice


@dataclass(frozen=True)
class Message:
    """A rendered notification: ``body`` is the e-mail's text part (with its
    footer), ``html`` the same as HTML, ``summary`` the short text of a push
    or inbox item."""

    subject: str
    body: str
    html: str = ""
    summary: str = ""


@dataclass(frozen=True)
class Footer:
    """Where the footer sends a person: their notification settings, and the
    one-click unsubscribe of this category (absent for essential notices)."""

    preferences: str | None = None
    unsubscribe: str | None = None


FOOTER = {
    "pt-BR": "\n\n—\nHospeda · Você recebe este e-mail porque tem uma conta conosco.",
    "en": "\n\n—\nHospeda · You receive this e-mail because you have an account with us.",
}
FOOTER_LINKS = {
    "pt-BR": (
        "Preferências de notificação: {preferences}",
        "Não receber mais avisos como este: {unsubscribe}",
    ),
    "en": ("Notification preferences: {preferences}", "Stop notices like this one: {unsubscribe}"),
}

TEMPLATES: dict[str, dict[str, tuple[str, str]]] = {
    "verify-email": {
        "pt-BR": (
            "Confirme seu e-mail",
            "Olá {name},\n\nConfirme seu endereço de e-mail abrindo o link abaixo:\n{link}\n\nO link vale por {expires_minutes} minutos.",
        ),
        "en": (
            "Confirm your e-mail",
            "Hello {name},\n\nConfirm your e-mail address by opening this link:\n{link}\n\nThe link is valid for {expires_minutes} minutes.",
        ),
    },
    "password-reset": {
        "pt-BR": (
            "Redefinição de senha",
            "Olá {name},\n\nRecebemos um pedido para redefinir sua senha. Para escolher uma nova, abra:\n{link}\n\nO link vale por {expires_minutes} minutos e só pode ser usado uma vez. Se não foi você, ignore este e-mail.",
        ),
        "en": (
            "Password reset",
            "Hello {name},\n\nWe received a request to reset your password. To choose a new one, open:\n{link}\n\nThe link is valid for {expires_minutes} minutes and works once. If it was not you, ignore this e-mail.",
        ),
    },
    "password-changed": {
        "pt-BR": (
            "Sua senha foi redefinida",
            "Olá {name},\n\nA senha da sua conta foi redefinida pelo link enviado a este e-mail, e todas as sessões abertas foram encerradas. Revise os tokens de API das suas empresas e revogue os que não reconhecer:\n{tokens_link}\n\nSe não foi você, redefina a senha de novo agora:\n{reset_link}",
        ),
        "en": (
            "Your password was reset",
            "Hello {name},\n\nYour account's password was reset through the link sent to this e-mail, and every open session was ended. Review your companies' API tokens and revoke any you do not recognise:\n{tokens_link}\n\nIf it was not you, reset the password again now:\n{reset_link}",
        ),
    },
    "signup-existing-account": {
        "pt-BR": (
            "Você já tem uma conta na Hospeda",
            "Olá {name},\n\nAlguém tentou criar uma nova conta com este endereço de e-mail, mas você já tem uma. Para entrar, abra:\n{login_link}\n\nEsqueceu a senha? Redefina aqui:\n{reset_link}\n\nSe não foi você, ignore este e-mail: nada mudou na sua conta.",
        ),
        "en": (
            "You already have a Hospeda account",
            "Hello {name},\n\nSomeone tried to create a new account with this e-mail address, but you already have one. To sign in, open:\n{login_link}\n\nForgot your password? Reset it here:\n{reset_link}\n\nIf it was not you, ignore this e-mail: nothing changed in your account.",
        ),
    },
    "invitation": {
        "pt-BR": (
            "Convite para {company_name}",
            "Olá,\n\n{inviter} convidou você para a empresa {company_name} como {role}.\nPara aceitar, abra:\n{link}",
        ),
        "en": (
            "Invitation to {company_name}",
            "Hello,\n\n{inviter} invited you to {company_name} as {role}.\nTo accept, open:\n{link}",
        ),
    },
    "invoice-issued": {
        "pt-BR": (
            "Fatura {number} emitida",
            "Sua fatura {number} de {amount} vence em {due_date}.\nPague com cartão ou Pix:\n{link}",
        ),
        "en": (
            "Invoice {number} issued",
            "Your invoice {number} for {amount} is due on {due_date}.\nPay by card or Pix:\n{link}",
        ),
    },
    "invoice-paid": {
        "pt-BR": (
            "Pagamento recebido: fatura {number}",
            "Recebemos {amount} referente à fatura {number}. Obrigado!",
        ),
        "en": (
            "Payment received: invoice {number}",
            "We received {amount} for invoice {number}. Thank you!",
        ),
    },
    "invoice-overdue": {
        "pt-BR": (
            "Fatura {number} em atraso",
            "A fatura {number} de {amount} venceu em {due_date} ({days_overdue} dia(s) de atraso).\nEvite a suspensão dos serviços pagando em:\n{link}",
        ),
        "en": (
            "Invoice {number} is overdue",
            "Invoice {number} for {amount} was due on {due_date} ({days_overdue} day(s) late).\nAvoid a suspension by paying at:\n{link}",
        ),
    },
    "payment-failed": {
        "pt-BR": (
            "Pagamento não aprovado: fatura {number}",
            "O pagamento da fatura {number} não foi aprovado: {reason}\nTente novamente em:\n{link}",
        ),
        "en": (
            "Payment declined: invoice {number}",
            "The payment of invoice {number} was declined: {reason}\nTry again at:\n{link}",
        ),
    },
    "service-active": {
        "pt-BR": (
            "Sua hospedagem {domain} está no ar",
            "A hospedagem de {domain} está ativa.\nUsuário do cPanel: {username}\nAcesse o painel: {link}",
        ),
        "en": (
            "Your hosting for {domain} is live",
            "Hosting for {domain} is active.\ncPanel user: {username}\nOpen the panel: {link}",
        ),
    },
    "service-suspended": {
        "pt-BR": (
            "Hospedagem {domain} suspensa",
            "A hospedagem de {domain} foi suspensa: {reason}\n{link}",
        ),
        "en": (
            "Hosting for {domain} suspended",
            "Hosting for {domain} was suspended: {reason}\n{link}",
        ),
    },
    "provisioning-failed": {
        "pt-BR": (
            "A ativação de {domain} está atrasada",
            "Olá,\n\nNão conseguimos concluir a ativação da hospedagem de {domain}, mesmo depois de várias tentativas automáticas.\n\nNossa equipe técnica já foi avisada e vai terminar a ativação. Avisamos você assim que o site estiver no ar.\n\nVocê não precisa fazer nada, e nada será cobrado de novo.\n{link}",
        ),
        "en": (
            "Activating {domain} is delayed",
            "Hello,\n\nWe could not finish activating the hosting for {domain}, even after several automatic attempts.\n\nOur technical team has been alerted and will complete it. We will tell you as soon as the site is live.\n\nYou need not do anything, and you will not be charged again.\n{link}",
        ),
    },
    "addon-failed": {
        "pt-BR": (
            "Não conseguimos ativar {addon} em {domain} ainda",
            "Olá,\n\nO adicional {addon} de {domain} ainda não pôde ser ativado, mesmo depois de várias tentativas automáticas.\n\nNossa equipe técnica já foi avisada e vai ativá-lo. Avisamos você quando estiver pronto; o resto da hospedagem continua funcionando normalmente.\n\nVocê não precisa fazer nada, e nada será cobrado de novo.\n{link}",
        ),
        "en": (
            "We could not turn on {addon} for {domain} yet",
            "Hello,\n\nThe {addon} add-on for {domain} could not be turned on yet, even after several automatic attempts.\n\nOur technical team has been alerted and will turn it on. We will tell you when it is ready; the rest of your hosting works as usual.\n\nYou need not do anything, and you will not be charged again.\n{link}",
        ),
    },
    "undelivered-refunded": {
        "pt-BR": (
            "Devolvemos {amount} de {domain}",
            "Olá,\n\nCancelamos o serviço {product} de {domain}, que não conseguimos ativar. Devolvemos {amount} ao meio de pagamento que você usou; o estorno pode levar alguns dias para aparecer no extrato.\n\nSentimos muito pelo transtorno.\n{link}",
        ),
        "en": (
            "We refunded {amount} for {domain}",
            "Hello,\n\nWe cancelled the {product} service for {domain}, which we could not activate. We returned {amount} to the method you paid with; it may take a few days to show on your statement.\n\nWe are sorry for the trouble.\n{link}",
        ),
    },
    "pix-returned": {
        "pt-BR": (
            "Devolvemos um Pix de {amount}",
            "Olá,\n\nRecebemos um Pix de {amount} para a fatura {number} que não era necessário: a fatura já estava paga, ou o valor não correspondia ao que estava em aberto. Devolvemos esse valor para a conta de onde ele saiu; costuma chegar em instantes.\n\nSe a fatura ainda estiver em aberto, pague pelo código novo na página dela:\n{link}",
        ),
        "en": (
            "We returned a Pix of {amount}",
            "Hello,\n\nWe received a Pix of {amount} for invoice {number} that was not needed: the invoice was already paid, or the amount did not match what was due. We sent it back to the account it came from; it usually arrives within moments.\n\nIf the invoice is still open, pay it with the new code on its page:\n{link}",
        ),
    },
    "pix-credited": {
        "pt-BR": (
            "{amount} de um Pix viraram crédito",
            "Olá,\n\nRecebemos um Pix de {amount} para a fatura {number} que não era necessário: a fatura já estava paga, ou o valor não correspondia ao que estava em aberto. O valor ficou como crédito na sua conta: já abatemos o que a fatura ainda devia, e o restante abate as próximas faturas.\n{link}",
        ),
        "en": (
            "{amount} from a Pix became credit",
            "Hello,\n\nWe received a Pix of {amount} for invoice {number} that was not needed: the invoice was already paid, or the amount did not match what was due. It is now credit on your account: we used it on what the invoice still owed, and the rest goes towards your next invoices.\n{link}",
        ),
    },
    "undelivered-credited": {
        "pt-BR": (
            "{amount} de crédito por {domain}",
            "Olá,\n\nCancelamos o serviço {product} de {domain}, que não conseguimos ativar. O valor pago, {amount}, ficou como crédito na sua conta e abate as próximas faturas.\n\nSentimos muito pelo transtorno.\n{link}",
        ),
        "en": (
            "{amount} of credit for {domain}",
            "Hello,\n\nWe cancelled the {product} service for {domain}, which we could not activate. What you paid, {amount}, is now credit on your account and goes towards your next invoices.\n\nWe are sorry for the trouble.\n{link}",
        ),
    },
    "delegation-instructions": {
        "pt-BR": (
            "Aponte {domain} para a Hospeda",
            "Para ativar {domain}, configure no Registro.br (ou no seu registrador) estes servidores DNS:\n{nameservers}\n\nVerificamos automaticamente e avisamos quando estiver pronto.",
        ),
        "en": (
            "Point {domain} to Hospeda",
            "To activate {domain}, set these nameservers at Registro.br (or your registrar):\n{nameservers}\n\nWe check automatically and tell you when it is done.",
        ),
    },
    "delegation-verified": {
        "pt-BR": (
            "{domain} está apontado para a Hospeda",
            "Confirmamos que {domain} usa nossos servidores DNS. Tudo certo!",
        ),
        "en": (
            "{domain} points to Hospeda",
            "We confirmed that {domain} uses our nameservers. All set!",
        ),
    },
    "delegation-failed": {
        "pt-BR": (
            "{domain} ainda não aponta para a Hospeda",
            "Em {wait_hours} horas não encontramos {domain} usando nossos servidores DNS, então o site e os e-mails ainda não funcionam por ele.\nConfigure no Registro.br (ou no seu registrador):\n{nameservers}\n\nHoje o domínio aponta para:\n{found_nameservers}\n\nContinuamos verificando regularmente e avisamos assim que estiver certo.",
        ),
        "en": (
            "{domain} does not point to Hospeda yet",
            "In {wait_hours} hours we did not find {domain} using our nameservers, so the site and e-mail do not work through it yet.\nSet these at Registro.br (or your registrar):\n{nameservers}\n\nToday the domain points to:\n{found_nameservers}\n\nWe keep checking regularly and tell you as soon as it is right.",
        ),
    },
    "delegation-lost": {
        "pt-BR": (
            "{domain} deixou de apontar para a Hospeda",
            "{domain} não usa mais nossos servidores DNS, e o site e os e-mails podem parar.\nServidores esperados:\n{nameservers}",
        ),
        "en": (
            "{domain} no longer points to Hospeda",
            "{domain} no longer uses our nameservers, so the site and e-mail may stop.\nExpected nameservers:\n{nameservers}",
        ),
    },
    "ops-alert": {
        "pt-BR": (
            "[{severity}] {summary}",
            "{summary}\n\nOrigem: {source}\nChave: {alert_key}\n{details}\n\nAbrir: {link}\n\nOutros alertas desta chave nos próximos {window_minutes} minutos chegam juntos em um resumo.",
        ),
        "en": (
            "[{severity}] {summary}",
            "{summary}\n\nSource: {source}\nKey: {alert_key}\n{details}\n\nOpen: {link}\n\nFurther alerts with this key in the next {window_minutes} minutes come together in one digest.",
        ),
    },
    "ops-alert-digest": {
        "pt-BR": (
            "Mais {count} alerta(s): {alert_key}",
            "Depois do último aviso chegaram mais {count} alerta(s) com a chave {alert_key}:\n{items}\n\nAbrir: {link}",
        ),
        "en": (
            "{count} more alert(s): {alert_key}",
            "Since the last notice, {count} more alert(s) arrived with the key {alert_key}:\n{items}\n\nOpen: {link}",
        ),
    },
}

SAMPLES: dict[str, dict[str, str | int | bool | None]] = {
    "verify-email": {
        "name": "Ana Souza",
        "link": "https://app.hospeda.com.br/conta/confirmar?token=exemplo",
        "expires_minutes": 60,
    },
    "password-reset": {
        "name": "Ana Souza",
        "link": "https://app.hospeda.com.br/conta/redefinir-senha?token=exemplo",
        "expires_minutes": 30,
    },
    "password-changed": {
        "name": "Ana Souza",
        "tokens_link": "https://app.hospeda.com.br/empresa/tokens",
        "reset_link": "https://app.hospeda.com.br/conta/esqueci-a-senha",
    },
    "signup-existing-account": {
        "name": "Ana Souza",
        "login_link": "https://app.hospeda.com.br/conta/entrar",
        "reset_link": "https://app.hospeda.com.br/conta/esqueci-a-senha",
    },
    "invitation": {
        "inviter": "Ana Souza",
        "company_name": "Padaria Pão Quente",
        "role": "técnico",
        "link": "https://app.hospeda.com.br/conta/convite?token=exemplo",
    },
    "invoice-issued": {
        "number": "2026-000123",
        "amount_cents": 4990,
        "currency": "BRL",
        "due_date": "10/12/2026",
        "link": "https://app.hospeda.com.br/app/faturas/exemplo",
    },
    "invoice-paid": {
        "number": "2026-000123",
        "amount_cents": 4990,
        "currency": "BRL",
        "link": "https://app.hospeda.com.br/app/faturas/exemplo",
    },
    "invoice-overdue": {
        "number": "2026-000123",
        "amount_cents": 4990,
        "currency": "BRL",
        "due_date": "10/12/2026",
        "days_overdue": 3,
        "link": "https://app.hospeda.com.br/app/faturas/exemplo",
    },
    "payment-failed": {
        "number": "2026-000123",
        "reason": "cartão recusado pelo banco / card declined",
        "link": "https://app.hospeda.com.br/app/faturas/exemplo",
    },
    "service-active": {
        "domain": "paoquente.com.br",
        "username": "paoquent",
        "link": "https://app.hospeda.com.br/app/servicos/exemplo",
    },
    "service-suspended": {
        "domain": "paoquente.com.br",
        "reason": "fatura 2026-000123 em atraso / invoice overdue",
        "link": "https://app.hospeda.com.br/app/faturas/exemplo",
    },
    "provisioning-failed": {
        "domain": "paoquente.com.br",
        "link": "https://app.hospeda.com.br/app/servicos/exemplo",
    },
    "addon-failed": {
        "domain": "paoquente.com.br",
        "addon": "backup-pro",
        "link": "https://app.hospeda.com.br/app/servicos/exemplo",
    },
    "undelivered-refunded": {
        "domain": "paoquente.com.br",
        "product": "Hospedagem Básica",
        "amount_cents": 2990,
        "currency": "BRL",
        "link": "https://app.hospeda.com.br/app/faturas/exemplo",
    },
    "pix-returned": {
        "number": "2026-000123",
        "amount_cents": 1990,
        "currency": "BRL",
        "link": "https://app.hospeda.com.br/app/faturas/exemplo",
    },
    "pix-credited": {
        "number": "2026-000123",
        "amount_cents": 1010,
        "currency": "BRL",
        "link": "https://app.hospeda.com.br/app/faturas/exemplo",
    },
    "undelivered-credited": {
        "domain": "paoquente.com.br",
        "product": "Backup Pro",
        "amount_cents": 2990,
        "currency": "BRL",
        "link": "https://app.hospeda.com.br/app/faturas/exemplo",
    },
    "delegation-instructions": {
        "domain": "paoquente.com.br",
        "nameservers": "ns1.hospeda.com.br\nns2.hospeda.com.br",
    },
    "delegation-verified": {"domain": "paoquente.com.br"},
    "delegation-failed": {
        "domain": "paoquente.com.br",
        "wait_hours": 48,
        "nameservers": "ns1.hospeda.com.br\nns2.hospeda.com.br",
        "found_nameservers": "a.dns.registro.br",
    },
    "delegation-lost": {
        "domain": "paoquente.com.br",
        "nameservers": "ns1.hospeda.com.br\nns2.hospeda.com.br",
    },
    "ops-alert": {
        "severity": "critical",
        "summary": "Job create-account falhou / failed: WHM não respondeu",
        "source": "provisioning",
        "alert_key": "provisioning:create-account",
        "details": "job_id: 0190f5e2-7b1c-7c3e-9a51-1f2d3c4b5a69",
        "link": "https://app.hospeda.com.br/app/equipe/tarefas/provisioning/exemplo",
        "window_minutes": 15,
    },
    "ops-alert-digest": {
        "count": 4,
        "alert_key": "provisioning:create-account",
        "items": "- Job create-account falhou / failed (4x)",
        "link": "https://app.hospeda.com.br/app/equipe/tarefas/provisioning",
    },
}
"""Data to preview every template with (staff preview)."""


class _Lenient(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def format_money(cents: int, currency: str = "BRL", locale: str = "pt-BR") -> str:
    """``4990, BRL`` → ``R$ 49,90`` (pt-BR) or ``R$49.90`` (en). Integer math only."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    symbol = {"BRL": "R$", "USD": "US$", "EUR": "€"}.get(currency, currency + " ")
    if locale.startswith("pt"):
        grouped = f"{whole:,}".replace(",", ".")
        return f"{sign}{symbol} {grouped},{part:02d}"
    return f"{sign}{symbol}{whole:,}.{part:02d}"


def language(locale: str) -> str:
    """pt-BR unless the person reads English."""
    return "en" if locale.lower().startswith("en") else "pt-BR"


def render(
    template: str, locale: str, data: dict[str, Any], footer: Footer | None = None
) -> Message:
    """``template`` in ``locale`` (pt-BR when unknown), every value with its
    control characters escaped."""
    notice(template)  # PermanentError for an unknown template
    lang = language(locale)
    subject, body = TEMPLATES[template][lang]
    values = _Lenient({k: "" if v is None else v for k, v in clean_data(data).items()})
    if "amount_cents" in data and "amount" not in data:
        values["amount"] = format_money(
            int(data["amount_cents"]), str(data.get("currency") or "BRL"), lang
        )
    formatter = string.Formatter()
    text = formatter.vformat(body, (), values).strip()
    tail = FOOTER[lang]
    if footer is not None:
        lines = FOOTER_LINKS[lang]
        if footer.preferences:
            tail += "\n" + lines[0].format(preferences=footer.preferences)
        if footer.unsubscribe:
            tail += "\n" + lines[1].format(unsubscribe=footer.unsubscribe)
    title = escape_controls(" ".join(formatter.vformat(subject, (), values).split()))
    return Message(
        subject=title[:300],
        body=text + tail,
        html=_html(title, text, tail),
        summary=_summary(text),
    )


_URL = re.compile(r"https?://[^\s<>\"']+")


def _linked(text: str) -> str:
    """Escaped HTML of ``text`` with its links clickable."""
    out, last = [], 0
    for match in _URL.finditer(text):
        out.append(html.escape(text[last : match.start()]))
        url = html.escape(match.group(0))
        out.append(f'<a href="{url}">{url}</a>')
        last = match.end()
    out.append(html.escape(text[last:]))
    return "".join(out)


def _html(title: str, text: str, footer: str) -> str:
    paragraphs = "".join(
        f"<p>{_linked(p).replace(chr(10), '<br>')}</p>" for p in text.split("\n\n") if p.strip()
    )
    small = _linked(footer.strip().lstrip("—").strip()).replace("\n", "<br>")
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>"
        '<body style="font-family:system-ui,sans-serif;line-height:1.5;color:#1f2937;'
        'max-width:40rem;margin:0 auto;padding:1rem">'
        f'<h1 style="font-size:1.25rem">{html.escape(title)}</h1>{paragraphs}'
        f'<hr><p style="font-size:.8rem;color:#6b7280">{small}</p></body></html>'
    )


def _summary(text: str, limit: int = 240) -> str:
    """The first paragraph that says something (not the greeting), short enough
    for a push or an inbox line."""
    paragraphs = [" ".join(p.split()) for p in text.split("\n\n") if p.strip()]
    meaningful = [p for p in paragraphs if not (p.endswith(",") and len(p) <= 60)]
    first = (meaningful or paragraphs or [""])[0]
    return first if len(first) <= limit else first[: limit - 1].rstrip() + "…"
