"""The messages notify knows how to write, in pt-BR (first) and English.

Senders give a template name and data; a value missing from the data is
left blank rather than failing the notification. ``amount_cents`` with
``currency`` becomes a formatted ``amount``.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Any

from hospeda.runtime.errors import PermanentError


@dataclass(frozen=True)
class Message:
    subject: str
    body: str


FOOTER = {
    "pt-BR": "\n\n—\nHospeda · Você recebe este e-mail porque tem uma conta conosco.",
    "en": "\n\n—\nHospeda · You receive this e-mail because you have an account with us.",
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
            "Não conseguimos ativar {domain}",
            "A ativação de {domain} falhou: {reason}\nNossa equipe já foi avisada e vai resolver; você não precisa fazer nada.",
        ),
        "en": (
            "We could not activate {domain}",
            "Activating {domain} failed: {reason}\nOur team has been alerted and will fix it; you need not do anything.",
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
}


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


def render(template: str, locale: str, data: dict[str, Any]) -> Message:
    """The subject and body of ``template`` in ``locale`` (pt-BR when unknown)."""
    variants = TEMPLATES.get(template)
    if variants is None:
        raise PermanentError(
            f"modelo de notificação desconhecido / unknown notification template {template!r}"
        )
    language = "en" if locale.lower().startswith("en") else "pt-BR"
    subject, body = variants[language]
    values = _Lenient({k: "" if v is None else v for k, v in data.items()})
    if "amount_cents" in data and "amount" not in data:
        values["amount"] = format_money(
            int(data["amount_cents"]), str(data.get("currency") or "BRL"), language
        )
    formatter = string.Formatter()
    return Message(
        subject=formatter.vformat(subject, (), values).strip(),
        body=formatter.vformat(body, (), values) + FOOTER[language],
    )
