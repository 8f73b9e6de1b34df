"""The API as documented: OpenAPI with permissions and examples, problems in
pt-BR and English, routes that cannot exist without a permission, a published
document that changes only compatibly, and no server error for any input
schemathesis can think of."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest
import requests
import schemathesis
from fastapi import APIRouter, FastAPI
from gateway_kit import Harness, Person, expect, gateway_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from hospeda.gateway import openapi
from hospeda.gateway.api import ApiRoute, allow, refuse_undeclared_routes
from hospeda.gateway.app import create_app
from hospeda.gateway.permissions import Permission, StaffRole

EXAMPLES = int(os.environ.get("HOSPEDA_SCHEMATHESIS_EXAMPLES", "6"))
# the same examples every run (derandomized), no example database, no deadline
FUZZING = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)


# --- a route must say what it needs ---------------------------------------------------------


def test_a_route_without_a_permission_refuses_to_start() -> None:
    router = APIRouter(route_class=ApiRoute)
    with pytest.raises(RuntimeError, match="must declare exactly one permission"):

        @router.get("/sem-permissao")
        async def undeclared() -> dict[str, str]:
            return {}

    with pytest.raises(RuntimeError, match="must declare exactly one permission"):

        @router.get("/duas", dependencies=[allow(Permission.PUBLIC), allow(Permission.SELF)])
        async def ambiguous() -> dict[str, str]:
            return {}


def test_a_route_that_bypasses_the_gateway_route_class_refuses_to_start() -> None:
    app = FastAPI()
    plain = APIRouter()

    @plain.get("/atalho")
    async def shortcut() -> dict[str, str]:
        return {}

    app.include_router(plain, prefix="/api/v1")
    with pytest.raises(RuntimeError, match="bypasses ApiRoute"):
        refuse_undeclared_routes(app)


# --- OpenAPI -------------------------------------------------------------------------------


async def test_openapi_names_each_operations_permission_with_examples(harness: Harness) -> None:
    schema = expect(await harness.browser().get("/openapi.json"), 200)
    assert schema["info"]["version"] == "1.0.0"
    schemes = schema["components"]["securitySchemes"]
    assert schemes["session"] == {
        "type": "apiKey",
        "in": "cookie",
        "name": "__Host-hospeda_session",
    }
    assert schemes["token"]["scheme"] == "bearer"
    component_schemas = schema["components"]["schemas"]
    operations = [
        (path, method, op) for path, item in schema["paths"].items() for method, op in item.items()
    ]
    assert len(operations) >= 60
    for path, method, op in operations:
        assert path.startswith("/api/v1/"), path
        permission = Permission(op["x-permission"])
        assert op.get("summary"), (method, path)
        assert "Permission" in op["description"]
        if permission is Permission.PUBLIC:
            assert op["security"] == []
        else:
            assert op["security"], (method, path)
        if method == "post":
            assert any(p["name"] == "Idempotency-Key" for p in op.get("parameters", [])) or (
                permission is Permission.MFA_PENDING
            )
        body = op.get("requestBody", {}).get("content", {}).get("application/json")
        if body:
            ref = body["schema"].get("$ref", "")
            model = component_schemas[ref.rsplit("/", 1)[-1]] if ref else body["schema"]
            assert model.get("examples"), f"{method} {path} has no request example"
        problems = [code for code in op["responses"] if code.startswith(("4", "5"))]
        for code in problems:
            if code != "422" or "application/problem+json" in op["responses"][code]["content"]:
                assert "application/problem+json" in op["responses"][code]["content"], (path, code)


# Answers of another service's queries, passed on as they come: they get their models
# from the runtime's typed query layer (issue 10; each route declares an alias from
# hospeda.gateway.schemas.<area> where the model plugs in). Take a route off this
# list once its answer is typed (the test below says when).
FORWARDED_ANSWERS = {
    ("get", "/api/v1/catalog"),
    ("get", "/api/v1/orders/{order_id}"),
    ("get", "/api/v1/invoices"),
    ("get", "/api/v1/invoices/{invoice_id}"),
    ("get", "/api/v1/subscriptions"),
    ("get", "/api/v1/subscriptions/{subscription_id}"),
    ("get", "/api/v1/services"),
    ("get", "/api/v1/services/{service_id}"),
    ("get", "/api/v1/jobs"),
    ("get", "/api/v1/jobs/{job_id}"),
    ("get", "/api/v1/staff/jobs"),
    ("get", "/api/v1/zones"),
    ("get", "/api/v1/zones/{domain}"),
    ("get", "/api/v1/audit"),
    ("get", "/api/v1/me/notification-settings"),
    ("get", "/api/v1/push/config"),
    ("get", "/api/v1/push/subscriptions"),
    ("get", "/api/v1/staff/notification-templates"),
    ("get", "/api/v1/staff/notification-templates/{template}"),
    ("get", "/api/v1/notifications"),
}


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _concrete(schema: dict[str, Any], components: dict[str, Any]) -> bool:
    """An object with named fields, whose lists say what they hold."""
    schema = _resolve(schema, components)
    if not schema.get("properties"):
        return False
    for field in schema["properties"].values():
        field = _resolve(field, components)
        if field.get("type") == "array" and not _resolve(field.get("items", {}), components):
            return False
    return True


def test_every_answer_of_the_gateways_own_routes_has_a_schema() -> None:
    app = create_app(gateway_settings("sqlite+aiosqlite://", "127.0.0.1:9", "redis://127.0.0.1:9"))
    schema = app.openapi()
    components = schema["components"]["schemas"]
    untyped, typed_now = [], []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            answers = {c: r for c, r in operation["responses"].items() if c.startswith("2")}
            assert answers, (method, path)
            for code, answer in answers.items():
                content = answer.get("content", {})
                if "text/html" in content:  # a page (e.g. the unsubscribe button)
                    continue
                if "text/event-stream" in content:  # each event: data, event, id
                    body = content["text/event-stream"]["itemSchema"]
                else:
                    body = content["application/json"]["schema"]
                if (method, path) in FORWARDED_ANSWERS:
                    if _concrete(body, components):
                        typed_now.append(f"{method.upper()} {path}")
                elif not _concrete(body, components):
                    untyped.append(f"{method.upper()} {path} {code}")
    assert not untyped, f"answers without a concrete response model: {untyped}"
    assert not typed_now, f"typed now: take them off FORWARDED_ANSWERS: {typed_now}"


# --- problems ------------------------------------------------------------------------------


async def test_errors_are_problem_details_in_portuguese_or_english(harness: Harness) -> None:
    browser = harness.browser()
    pt = await browser.get("/api/v1/nada-aqui")
    assert pt.status_code == 404
    assert pt.headers["content-type"] == "application/problem+json"
    assert pt.headers["content-language"] == "pt-BR"
    body = pt.json()
    assert body == {
        "type": "https://hospeda.dev/problems/route_not_found",
        "title": "Endereço não encontrado",
        "status": 404,
        "detail": "Este endereço não existe na API.",
        "instance": "/api/v1/nada-aqui",
        "code": "route_not_found",
    }
    en = await browser.get("/api/v1/me", headers={"Accept-Language": "en-GB,en;q=0.9,pt;q=0.5"})
    assert en.status_code == 401 and en.headers["content-language"] == "en"
    assert en.json()["detail"] == "Sign in to continue."
    prefers_pt = await browser.get("/api/v1/me", headers={"Accept-Language": "pt-BR,en;q=0.8"})
    assert prefers_pt.json()["detail"] == "Entre na sua conta para continuar."

    invalid = await browser.post(
        "/api/v1/auth/signup", json={"company_name": "", "email": "não-é-email", "password": "x"}
    )
    assert invalid.status_code == 422
    problem = invalid.json()
    assert problem["code"] == "validation_failed" and problem["title"] == "Dados inválidos"
    fields = {e["field"]: e["message"] for e in problem["errors"]}
    assert fields["body.name"] == "Campo obrigatório."
    assert fields["body.password"] == "Texto curto demais (mínimo 12)."
    assert "body.email" in fields
    broken = await browser.post(
        "/api/v1/auth/login", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 422 and broken.json()["errors"][0]["message"] == "JSON inválido."
    wrong_method = await browser.delete("/api/v1/auth/login")
    assert wrong_method.status_code == 405 and wrong_method.json()["code"] == "method_not_allowed"
    # Allow names every method of the path, not only the first route's
    options = await browser.request("OPTIONS", "/api/v1/company")
    assert options.status_code == 405 and options.headers["allow"] == "GET, PATCH"
    members = await browser.request("PUT", "/api/v1/company/members")
    assert members.status_code == 405 and "GET" in members.headers["allow"]
    bad_id = await browser.get("/api/v1/invoices/nao-e-uuid")
    assert bad_id.status_code in (401, 422)  # who you are is checked first


# --- the published document ------------------------------------------------------------------


def test_the_published_openapi_is_current_and_nothing_published_broke() -> None:
    """services/gateway/openapi.json is what the gateway serves (`make contracts`)."""
    assert openapi.check() == []


def test_commands_link_to_what_follows_them() -> None:
    """Every accepted command links to its operation; a creation to what it created."""
    doc = openapi.document()
    ids = {op["operationId"] for item in doc["paths"].values() for op in item.values()}
    accepted = 0
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            answer = operation["responses"].get("202", {})
            body = answer.get("content", {}).get("application/json", {}).get("schema", {})
            if body.get("$ref", "").endswith("/Accepted"):
                accepted += 1
                link = answer["links"]["operation"]
                assert link["operationId"] in ids, (method, path)
                assert link["parameters"] == {"operation_id": "$response.body#/operation_id"}
    assert accepted > 20
    order = doc["paths"]["/api/v1/orders"]["post"]["responses"]["202"]["links"]["resource"]
    reader = doc["paths"]["/api/v1/orders/{order_id}"]["get"]["operationId"]
    assert order == {
        "operationId": reader,
        "parameters": {"order_id": "$response.body#/resource_id"},
        "description": "Ler o que foi criado / Read what was created",
    }


def test_a_change_that_breaks_a_generated_client_is_refused() -> None:
    published = openapi.document()
    schemas = published["components"]["schemas"]
    assert "Me" in schemas and "OrderIn" in schemas

    broken = copy.deepcopy(published)
    del broken["paths"]["/api/v1/company"]["get"]
    broken["paths"]["/api/v1/invoices"]["get"]["parameters"].append(
        {"in": "query", "name": "since", "required": True, "schema": {"type": "string"}}
    )
    del broken["components"]["schemas"]["Me"]["properties"]["email"]
    order = broken["components"]["schemas"]["OrderIn"]
    order["properties"]["coupon"] = {"type": "string"}
    order["required"].append("coupon")
    problems = openapi.breaking(published, broken)
    assert "GET /api/v1/company: removed" in problems
    assert "GET /api/v1/invoices: new required query parameter 'since'" in problems
    assert "GET /api/v1/me answer 200.email: removed" in problems
    assert "POST /api/v1/orders request.coupon: now required" in problems

    grown = copy.deepcopy(published)
    grown["paths"]["/api/v1/novidade"] = {"get": {"responses": {"200": {}}}}
    grown["components"]["schemas"]["Me"]["properties"]["apelido"] = {"type": "string"}
    grown["paths"]["/api/v1/invoices"]["get"]["parameters"].append(
        {"in": "query", "name": "since", "required": False, "schema": {"type": "string"}}
    )
    assert openapi.breaking(published, grown) == []


# --- schemathesis ----------------------------------------------------------------------------


@pytest.fixture
async def callers(harness: Harness) -> dict[str, dict[str, str]]:
    """Headers for the kinds of callers: a signed-in owner (cookie + CSRF), an
    API token, staff acting on a company, and nobody."""
    owner = await harness.sign_up()
    assert owner.company_id is not None
    harness.peers.add("invoices", owner.company_id, invoice_id=str(uuid4()), status="open")
    token = expect(
        await owner.browser.post(
            "/api/v1/company/tokens",
            json={"name": "fuzz", "permissions": ["invoices:read", "orders:create", "dns:write"]},
        ),
        201,
    )["token"]
    staff = await harness.staff(StaffRole.SUPERADMIN)
    await harness.act_on(staff, owner.company_id)

    def session_of(person: Person) -> dict[str, str]:
        cookies = "; ".join(f"{k}={v}" for k, v in person.browser.cookies.items())
        return {"Cookie": cookies, "X-CSRF-Token": str(person.browser.csrf)}

    return {
        "owner": session_of(owner),
        "staff": session_of(staff),
        "token": {"Authorization": f"Bearer {token}"},
        "nobody": {},
    }


# They end or change the fuzzing session: run them last.
LAST = ("/api/v1/auth/logout", "/api/v1/auth/logout-everywhere", "/api/v1/staff/acting")


def operations(schema: Any) -> Iterator[Any]:
    ops = [result.ok() for result in schema.get_all_operations()]
    yield from sorted(ops, key=lambda op: (op.path in LAST, op.path, op.method))


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_no_input_makes_the_server_fail(
    harness: Harness, callers: dict[str, dict[str, str]]
) -> None:
    schema = schemathesis.openapi.from_url(f"{harness.url}/openapi.json")
    failures: list[str] = []
    http = requests.Session()

    def fuzz(operation: Any, who: str, headers: dict[str, str]) -> None:
        strategy = st.one_of(
            operation.as_strategy(generation_mode=mode)
            for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
        )

        @FUZZING
        @given(case=strategy)
        def call(case: Any) -> None:
            response = case.call(base_url=harness.url, headers=headers, session=http, timeout=20)
            if response.status_code >= 500:
                failures.append(
                    f"[{who}] {response.status_code}: {case.as_curl_command()}\n{response.text[:300]}"
                )

        call()

    for who, headers in callers.items():
        for operation in operations(schema):
            if operation.path != "/api/v1/events":  # endless; the RBAC matrix covers it
                fuzz(operation, who, headers)
    assert not failures, "\n\n".join(failures[:10])


# what every answer must match: a documented status, the documented media type
# (problem+json for problems), and the documented schema
CONFORMANCE = [status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_every_answer_is_one_the_document_promises(
    harness: Harness, callers: dict[str, dict[str, str]]
) -> None:
    """Valid requests from each kind of caller: whatever they are answered
    (200, 404, 409, 429 …) is in the document, with its media type and schema."""
    schema = schemathesis.openapi.from_url(f"{harness.url}/openapi.json")
    failures: set[str] = set()
    http = requests.Session()

    def check(operation: Any, who: str, headers: dict[str, str]) -> None:
        @FUZZING
        @given(case=operation.as_strategy(generation_mode=schemathesis.GenerationMode.POSITIVE))
        def call(case: Any) -> None:
            response = case.call(base_url=harness.url, headers=headers, session=http, timeout=20)
            try:
                case.validate_response(response, checks=CONFORMANCE, headers=headers)
            except Exception as exc:
                for failure in getattr(exc, "exceptions", [exc]):
                    title = getattr(failure, "title", type(failure).__name__)
                    failures.add(
                        f"[{who}] {case.method} {operation.path} → {response.status_code}: {title}"
                    )

        call()

    for who, headers in callers.items():
        for operation in operations(schema):
            if operation.path != "/api/v1/events":
                check(operation, who, headers)
    assert not failures, "\n".join(sorted(failures))


async def test_emailed_links_open_a_page_with_their_form(harness: Harness) -> None:
    browser = harness.browser()
    for action in ("verificar-email", "redefinir-senha", "convite"):
        page = await browser.get(f"/conta/{action}", params={"token": "abc"})
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        # the link only opens a form that posts back with the token: following it changes nothing
        assert f'action="/conta/{action}"' in page.text
        assert '<input type="hidden" name="token" value="abc">' in page.text
    assert (await browser.get("/conta/outra-coisa")).status_code == 404
