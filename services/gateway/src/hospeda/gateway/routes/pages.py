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


@router.get("/", response_class=HTMLResponse)
async def home() -> str:
    return HOME


@router.get("/healthz")
async def health() -> dict[str, str]:
    return {"status": "ok"}
