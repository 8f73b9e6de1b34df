"""The API reference at ``/docs``: Swagger UI 5 (it reads OpenAPI 3.1) from the
``fastapi-offline`` package installed with the gateway, served from this origin —
nothing from a CDN, and no inline script (the page's CSP allows only the app's own
files).

For partners who subscribe to the platform's topics: ``/docs/eventos`` (the
topics, their keys and message types, and how to subscribe), the AsyncAPI
document at ``/docs/asyncapi.json`` and each message's JSON Schema at
``/docs/schemas/<type>.v<version>.json``, made from the contracts themselves."""

from __future__ import annotations

import functools
import html
import json
from importlib.resources import files

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from hospeda.contracts.registry import MESSAGE_TYPES
from hospeda.contracts.schema import asyncapi_document, message_schema, schema_file_name
from hospeda.contracts.topics import TOPICS, Topic
from hospeda.gateway.api import ApiRoute, allow
from hospeda.gateway.permissions import Permission as P
from hospeda.gateway.problems import ApiError

ASSETS = "/docs/assets"

router = APIRouter(include_in_schema=False, route_class=ApiRoute, dependencies=[allow(P.PUBLIC)])

PAGE = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Hospeda API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="/static/img/hospeda.svg" type="image/svg+xml">
<link rel="stylesheet" href="{ASSETS}/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="{ASSETS}/swagger-ui-bundle.js"></script>
<script src="/docs/start.js"></script></body></html>"""

START = """window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
  validatorUrl: null
});
"""


@router.get("/docs")
async def docs() -> HTMLResponse:
    return HTMLResponse(PAGE)


@router.get("/docs/start.js")
async def start() -> Response:
    return Response(START, media_type="text/javascript")


PRIVATE = (".commands.", ".queries.", ".job.")
"""Topics that are the services' own business: partners read the event topics."""


def partner_topics() -> list[Topic]:
    return [t for t in TOPICS if not any(part in t.name for part in PRIVATE)]


@functools.cache
def _schemas() -> dict[str, str]:
    return {
        schema_file_name(p): json.dumps(message_schema(p), ensure_ascii=False)
        for p in MESSAGE_TYPES.values()
    }


@router.get("/docs/asyncapi.json")
async def asyncapi() -> JSONResponse:
    return JSONResponse(_asyncapi())


@functools.cache
def _asyncapi() -> dict[str, object]:
    return asyncapi_document()


@router.get("/docs/schemas/{name}")
async def schema(name: str) -> Response:
    found = _schemas().get(name)
    if found is None:
        raise ApiError("not_found", 404)
    return Response(found, media_type="application/schema+json")


@router.get("/docs/eventos")
async def events_guide() -> HTMLResponse:
    return HTMLResponse(_guide())


@functools.cache
def _guide() -> str:
    rows = "".join(
        f"<tr><td><code>{html.escape(t.name)}</code></td><td>{html.escape(t.key)}</td>"
        f"<td>{html.escape(t.description)}</td><td>"
        + "<br>".join(
            f'<a href="/docs/schemas/{schema_file_name(m)}"><code>{m.TYPE}</code></a>'
            for m in t.messages
        )
        + "</td></tr>"
        for t in partner_topics()
    )
    return GUIDE.replace("{rows}", rows)


GUIDE = """<!doctype html>
<html lang="pt-BR"><head><meta charset="utf-8"><title>Hospeda: eventos / events</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/css/app.css"></head>
<body><main class="page">
<h1>Eventos da plataforma / Platform events</h1>
<p>Cada mensagem é um envelope JSON (<code>id</code>, <code>type</code>, <code>version</code>,
<code>occurred_at</code> em UTC, <code>company_id</code>, <code>actor</code>,
<code>correlation_id</code>, <code>causation_id</code>, <code>payload</code>) descrito por um
JSON Schema. Documento AsyncAPI: <a href="/docs/asyncapi.json">/docs/asyncapi.json</a>.
Exemplo de consumidor (confluent-kafka): <code>examples/partner_consumer.py</code>.<br>
<span lang="en">Each message is a JSON envelope described by a JSON Schema; the AsyncAPI
document is at /docs/asyncapi.json; an example consumer is examples/partner_consumer.py.</span></p>
<h2>Como assinar / How to subscribe</h2>
<ul>
<li><strong>Grupo de consumidores / consumer group</strong>: <code>partner-&lt;sua empresa&gt;-&lt;uso&gt;</code>,
um por aplicação, com o seu prefixo (a operação dá à sua credencial leitura dos tópicos de
eventos e dos grupos com esse prefixo). <span lang="en">One group per application, named with
your prefix.</span></li>
<li><strong>Chaves e ordem / keys and ordering</strong>: a ordem vale por chave (a coluna “chave”):
os eventos de uma fatura chegam na ordem em que aconteceram; entre chaves, não há ordem.
<span lang="en">Order holds per key only.</span></li>
<li><strong>Pelo menos uma vez / at least once</strong>: confirme o offset depois de processar; a
mesma mensagem pode chegar de novo — use <code>id</code> para ignorar repetidas.
<span lang="en">Commit after processing; deduplicate by <code>id</code>.</span></li>
<li><strong>Versões / versioning</strong>: mudanças compatíveis (campos novos) não mudam a versão;
<strong>ignore campos que você não conhece</strong> e tipos de mensagem novos. Uma mudança
incompatível é um tópico novo (<code>….v2</code>), publicado lado a lado com o antigo por um tempo.
<span lang="en">Ignore unknown fields and types; a breaking change is a new topic version.</span></li>
<li><strong>Reprocessar / replays</strong>: os tópicos guardam 7 dias (o padrão do Kafka); para voltar no tempo,
reposicione o seu grupo (<code>offsets_for_times</code>) ou peça à operação um
<code>hospeda replay</code> para um tópico seu.
<span lang="en">Topics keep 7 days; seek your group by time, or ask operations for a replay.</span></li>
<li><strong>Broker local / local broker</strong> (<code>make run</code>): ele espera metade do
<code>session.timeout.ms</code> antes da primeira entrada num grupo; com o padrão do librdkafka
(45 s) são ~24 s até a primeira mensagem. Use <code>session.timeout.ms=6000</code>.
<span lang="en">The local broker waits half the session timeout before a group's first join: set
session.timeout.ms=6000.</span></li>
</ul>
<h2>Tópicos / Topics</h2>
<table><thead><tr><th>Tópico / topic</th><th>Chave / key</th><th>O que tem / what</th>
<th>Mensagens / messages</th></tr></thead><tbody>{rows}</tbody></table>
</main></body></html>"""


def install(app: FastAPI) -> None:
    """The reference page and its files (FastAPI's own ``/docs`` and ``/redoc`` are off)."""
    app.include_router(router)
    swagger_ui = files("fastapi_offline") / "static"
    app.mount(ASSETS, StaticFiles(directory=str(swagger_ui)), name="swagger-ui")
