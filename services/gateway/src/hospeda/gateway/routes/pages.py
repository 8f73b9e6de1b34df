"""The pages a browser opens (the full web app is a later piece of work)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from hospeda.gateway.api import ApiRoute, allow
from hospeda.gateway.permissions import Permission as P

router = APIRouter(include_in_schema=False, route_class=ApiRoute, dependencies=[allow(P.PUBLIC)])

HOME = """<!doctype html>
<html lang="pt-BR"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Hospeda</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#1b1f24}
button{font:inherit;padding:.5rem 1rem}pre{background:#f3f4f6;padding:1rem;overflow:auto}</style></head>
<body><h1>Hospeda</h1>
<p>A plataforma está no ar. <span lang="en">The platform is up.</span></p>
<p><button id="probe">Testar o caminho completo / Test the whole path</button></p>
<pre id="out" aria-live="polite"></pre>
<p><a href="/docs">API (OpenAPI)</a></p>
<script>
document.getElementById('probe').onclick = async () => {
  const out = document.getElementById('out');
  out.textContent = 'Enviando… / Sending…';
  const started = await (await fetch('/api/v1/ops/probes', {method: 'POST'})).json();
  for (let i = 0; i < 100; i++) {
    const r = await fetch(started.status_url);
    if (r.ok) { out.textContent = JSON.stringify(await r.json(), null, 2); return; }
    await new Promise(res => setTimeout(res, 100));
  }
  out.textContent = 'Sem resposta / No answer';
};
</script></body></html>"""


# The pages e-mailed links open: a bare form each, until the web app takes over.
ACCOUNT_PAGE = """<!doctype html>
<html lang="pt-BR"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Hospeda</title>
<style>body{font-family:system-ui,sans-serif;max-width:30rem;margin:3rem auto;padding:0 1rem;color:#1b1f24}
label{display:block;margin:.75rem 0}input,button{font:inherit;padding:.4rem;width:100%;box-sizing:border-box}</style></head>
<body><h1>Hospeda</h1><form id="f">__FIELDS__<button>__BUTTON__</button></form><p id="out" aria-live="polite"></p>
<script>
const token = new URLSearchParams(location.search).get('token');
const csrf = (document.cookie.match(/(?:^|; )(?:__Host-)?hospeda_csrf=([^;]*)/) || [])[1] || '';
document.getElementById('f').onsubmit = async (e) => {
  e.preventDefault();
  const body = Object.fromEntries(new FormData(e.target));
  body.token = token;
  const r = await fetch('__API__', {method: 'POST', headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf}, body: JSON.stringify(body)});
  const answer = await r.json();
  document.getElementById('out').textContent = r.ok ? 'Pronto! / Done!' : answer.detail;
};
</script></body></html>"""

NEW_LOGIN_FIELD = (
    '<label>Senha / Password (12+) <input name="password" type="password" minlength="12" '
    'required autocomplete="new-password"></label>'
)
ACCOUNT_FORMS = {
    "verificar-email": ("", "Confirmar e-mail / Confirm e-mail", "/api/v1/auth/verify-email"),
    "redefinir-senha": (
        NEW_LOGIN_FIELD,
        "Definir a nova senha / Set the new password",
        "/api/v1/auth/password/reset",
    ),
    "esqueci-a-senha": (
        '<label>E-mail <input name="email" type="email" required autocomplete="email"></label>',
        "Enviar o link de redefinição / Send the reset link",
        "/api/v1/auth/password/forgot",
    ),
    "convite": (
        '<label>Nome / Name <input name="name" required></label>' + NEW_LOGIN_FIELD,
        "Criar conta e entrar na empresa / Create an account and join",
        "/api/v1/auth/signup/invited",
    ),
}


@router.get("/conta/{action}", response_class=HTMLResponse)
async def account_page(action: str) -> HTMLResponse:
    form = ACCOUNT_FORMS.get(action)
    if form is None:
        return HTMLResponse("Página não encontrada / Page not found", status_code=404)
    fields, button, api = form
    return HTMLResponse(
        ACCOUNT_PAGE.replace("__FIELDS__", fields)
        .replace("__BUTTON__", button)
        .replace("__API__", api)
    )


@router.get("/", response_class=HTMLResponse)
async def home() -> str:
    return HOME


@router.get("/healthz")
async def health() -> dict[str, str]:
    return {"status": "ok"}


# Where Stripe sends the customer back after 3-D Secure or a bank page
# (billing's BILLING_RETURN_URL): tell billing to look, then show the answer.
PAYMENT_RETURN = """<!doctype html>
<html lang="pt-BR"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Hospeda — pagamento / payment</title>
<style>body{font-family:system-ui,sans-serif;max-width:30rem;margin:3rem auto;padding:0 1rem;color:#1b1f24}</style></head>
<body><h1>Hospeda</h1><p id="out" aria-live="polite">Confirmando o pagamento… / Confirming the payment…</p>
<script>
const q = new URLSearchParams(location.search);
const csrf = (document.cookie.match(/(?:^|; )(?:__Host-)?hospeda_csrf=([^;]*)/) || [])[1] || '';
const out = document.getElementById('out');
(async () => {
  if (q.get('redirect_status') === 'failed') {
    out.textContent = 'O pagamento não foi concluído. Tente de novo. / The payment did not go through. Please try again.';
    return;
  }
  const r = await fetch('/api/v1/invoices/' + encodeURIComponent(q.get('invoice') || '') + '/confirm-payment', {
    method: 'POST', headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf},
    body: JSON.stringify({payment_intent_id: q.get('payment_intent')})});
  const answer = await r.json();
  out.textContent = r.ok
    ? 'Recebemos seu pagamento; a fatura será baixada em instantes. / We got your payment; the invoice will be settled in a moment.'
    : answer.detail;
})();
</script></body></html>"""


@router.get("/app/pagamento/retorno", response_class=HTMLResponse)
async def payment_return() -> HTMLResponse:
    return HTMLResponse(PAYMENT_RETURN)
