"""The web app: server-rendered pages (Jinja2) with a little JavaScript of our
own, served by the gateway under the same permission matrix as the API.

``install(app)`` adds the pages, ``/static`` and the HTML answers for pages:
signed out → the sign-in page (``?next=`` brings the person back), no
permission → a 403 page, unknown → a 404 page. API paths keep their
problem+json answers."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from hospeda.gateway.problems import ApiError
from hospeda.gateway.web import account, audit, customer, staff
from hospeda.gateway.web.render import (
    STATIC,
    confirm_url,
    describe,
    english,
    login_url,
    page,
    redirect,
)

API_PREFIXES = ("/api/", "/docs", "/openapi.json", "/static/")

HEADINGS = {
    401: ("Entre para continuar", "Sign in to continue"),
    403: ("Sem permissão", "Not allowed"),
    404: ("Página não encontrada", "Page not found"),
    503: ("Serviço indisponível", "Service unavailable"),
}


def _is_page(request: Request) -> bool:
    return not request.url.path.startswith(API_PREFIXES)


def install(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in (account.router, customer.router, audit.router, staff.router):
        app.include_router(router)

    api_error = app.exception_handlers[ApiError]
    http_error = app.exception_handlers[StarletteHTTPException]

    async def on_api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        if not _is_page(request):
            answer: Response = await api_error(request, exc)
            return answer
        if exc.status == 401 and request.method == "GET":
            return redirect(login_url(request))
        if exc.status == 401:
            return redirect("/entrar")
        if exc.code == "reauthentication_required":
            return redirect(confirm_url(request))
        return error_page(request, exc.status, describe(exc, english(request)), problem=exc.code)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if not _is_page(request) or exc.status_code != 404:
            answer: Response = await http_error(request, exc)
            return answer
        return error_page(request, 404, None)

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)


def error_page(request: Request, status: int, detail: str | None, **values: Any) -> Response:
    en = english(request)
    pt_heading, en_heading = HEADINGS.get(status, ("Algo deu errado", "Something went wrong"))
    if detail is None:
        detail = (
            "The address may be wrong, or the page has moved."
            if en
            else "O endereço pode estar errado, ou a página mudou de lugar."
        )
    return page(
        request,
        "erro.html",
        None,
        status=status,
        heading=en_heading if en else pt_heading,
        detail=detail,
        **values,
    )
