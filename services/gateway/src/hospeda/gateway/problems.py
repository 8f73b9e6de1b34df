"""Errors as RFC 9457 problem details, in Brazilian Portuguese or English.

Code raises ``ApiError(code, status, **params)``; the one exception handler
here turns it (and FastAPI's own validation and routing errors) into
``application/problem+json`` in the language the client prefers
(``Accept-Language``; pt-BR unless English ranks higher).
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from hospeda.gateway.domain import Refused
from hospeda.gateway.schemas.common import NO_CONTROLS

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

# code: (title pt-BR, title en, detail pt-BR, detail en). Details may use {params}.
MESSAGES: dict[str, tuple[str, str, str, str]] = {
    "not_authenticated": (
        "Não autenticado",
        "Not authenticated",
        "Entre na sua conta para continuar.",
        "Sign in to continue.",
    ),
    "forbidden": (
        "Sem permissão",
        "Forbidden",
        "Você não tem permissão para fazer isso.",
        "You do not have permission to do this.",
    ),
    "no_active_company": (
        "Nenhuma empresa ativa",
        "No active company",
        "Escolha uma empresa da qual você participa para continuar.",
        "Choose a company you belong to in order to continue.",
    ),
    "token_not_allowed": (
        "Token de API não aceito aqui",
        "API token not accepted here",
        "Esta operação exige uma sessão de usuário; tokens de API não podem usá-la.",
        "This operation needs a signed-in person; API tokens cannot use it.",
    ),
    "staff_2fa_required": (
        "Verificação em duas etapas obrigatória",
        "Two-factor authentication required",
        "Ative a verificação em duas etapas para usar as funções da equipe.",
        "Turn on two-factor authentication to use staff functions.",
    ),
    "csrf_failed": (
        "Falha na verificação CSRF",
        "CSRF check failed",
        "Falta o cabeçalho X-CSRF-Token ou ele não confere com a sessão. Recarregue a página e tente de novo.",
        "The X-CSRF-Token header is missing or does not match the session. Reload the page and try again.",
    ),
    "cross_site": (
        "Requisição de outro site",
        "Cross-site request",
        "Esta operação não pode ser feita a partir de outro site.",
        "This operation cannot be made from another site.",
    ),
    "invalid_credentials": (
        "Credenciais inválidas",
        "Invalid credentials",
        "E-mail ou senha incorretos.",
        "Wrong e-mail or password.",
    ),
    "email_not_verified": (
        "E-mail não confirmado",
        "E-mail not confirmed",
        "Confirme seu e-mail antes de entrar: use o link que enviamos (ou peça outro).",
        "Confirm your e-mail before signing in: use the link we sent (or ask for another).",
    ),
    "too_many_attempts": (
        "Muitas tentativas",
        "Too many attempts",
        "Muitas tentativas. Tente novamente em {retry_after} s.",
        "Too many attempts. Try again in {retry_after} s.",
    ),
    "reauthentication_required": (
        "Confirme sua identidade",
        "Confirm it is you",
        "Para esta alteração, confirme sua senha ou um código de verificação (POST /api/v1/auth/reauthenticate) e tente de novo.",
        "For this change, confirm your password or a verification code (POST /api/v1/auth/reauthenticate) and try again.",
    ),
    "reauth_one_proof": (
        "Informe uma prova",
        "Give one proof",
        "Envie a senha ou um código de verificação — um dos dois.",
        "Send the password or a verification code — one of them.",
    ),
    "invalid_code": (
        "Código inválido",
        "Invalid code",
        "Código inválido ou já usado. Confira o aplicativo autenticador e tente de novo.",
        "Invalid or already used code. Check your authenticator app and try again.",
    ),
    "totp_not_started": (
        "Configuração não iniciada",
        "Setup not started",
        "Comece a configuração da verificação em duas etapas antes de ativá-la.",
        "Start the two-factor setup before turning it on.",
    ),
    "totp_already_enabled": (
        "Já ativada",
        "Already on",
        "A verificação em duas etapas já está ativa nesta conta.",
        "Two-factor authentication is already on for this account.",
    ),
    "totp_not_enabled": (
        "Não ativada",
        "Not on",
        "A verificação em duas etapas não está ativa nesta conta.",
        "Two-factor authentication is not on for this account.",
    ),
    "invalid_link": (
        "Link inválido ou expirado",
        "Invalid or expired link",
        "Este link é inválido, já foi usado ou expirou. Peça um novo.",
        "This link is invalid, was already used or has expired. Ask for a new one.",
    ),
    "email_taken": (
        "E-mail já cadastrado",
        "E-mail already registered",
        "Já existe uma conta com este e-mail. Entre ou redefina a senha.",
        "An account with this e-mail already exists. Sign in or reset the password.",
    ),
    "invitation_other_email": (
        "Convite para outro e-mail",
        "Invitation for another e-mail",
        "Este convite foi enviado para outro endereço de e-mail. Entre com a conta desse e-mail.",
        "This invitation was sent to another e-mail address. Sign in with that address's account.",
    ),
    "already_member": (
        "Já participa",
        "Already a member",
        "Esta pessoa já participa da empresa.",
        "This person already belongs to the company.",
    ),
    "last_owner": (
        "Último proprietário",
        "Last owner",
        "A empresa precisa de pelo menos um proprietário.",
        "The company needs at least one owner.",
    ),
    "owner_only": (
        "Só proprietários",
        "Owners only",
        "Só um proprietário pode conceder, alterar ou remover o papel de proprietário.",
        "Only an owner can grant, change or remove the owner role.",
    ),
    "permission_not_grantable": (
        "Permissão não concedível",
        "Permission not grantable",
        "Um token não pode receber a permissão {permission}: ou ela não existe para tokens, ou você não a tem.",
        "A token cannot carry the permission {permission}: either tokens cannot have it or you do not.",
    ),
    "passkey_challenge": (
        "Pedido de chave de acesso expirado",
        "Passkey request expired",
        "Este pedido de chave de acesso expirou ou já foi usado. Tente de novo.",
        "This passkey request has expired or was already used. Please try again.",
    ),
    "passkey_refused": (
        "Chave de acesso recusada",
        "Passkey refused",
        "Não conseguimos confirmar esta chave de acesso. Use a biometria ou o bloqueio de tela do aparelho, ou entre com a senha.",
        "We could not confirm this passkey. Use your device's biometrics or screen lock, or sign in with your password.",
    ),
    "passkey_invalid": (
        "Chave de acesso não aceita",
        "Passkey not accepted",
        "O aparelho não confirmou a chave de acesso com biometria ou bloqueio de tela. Tente de novo.",
        "The device did not confirm the passkey with biometrics or a screen lock. Please try again.",
    ),
    "passkey_exists": (
        "Chave de acesso já cadastrada",
        "Passkey already registered",
        "Esta chave de acesso já está cadastrada.",
        "This passkey is already registered.",
    ),
    "passkey_limit": (
        "Limite de chaves de acesso",
        "Passkey limit",
        "Você já tem {limit} chaves de acesso; remova uma antes de adicionar outra.",
        "You already have {limit} passkeys; remove one before adding another.",
    ),
    "last_passkey": (
        "Última forma de entrar",
        "Last way to sign in",
        "Esta é a sua única forma de entrar: defina uma senha antes de remover a última chave de acesso.",
        "This is your only way to sign in: set a password before removing your last passkey.",
    ),
    "not_found": (
        "Não encontrado",
        "Not found",
        "Não encontramos o que você pediu nesta empresa.",
        "We could not find what you asked for in this company.",
    ),
    "route_not_found": (
        "Endereço não encontrado",
        "Route not found",
        "Este endereço não existe na API.",
        "This address does not exist in the API.",
    ),
    "method_not_allowed": (
        "Método não permitido",
        "Method not allowed",
        "Este endereço não aceita este método HTTP.",
        "This address does not accept this HTTP method.",
    ),
    "validation_failed": (
        "Dados inválidos",
        "Invalid data",
        "Alguns campos estão inválidos; veja a lista em errors.",
        "Some fields are invalid; see the list in errors.",
    ),
    "invalid": (
        "Pedido recusado",
        "Request refused",
        "{message}",
        "{message}",
    ),
    "probe_pending": (
        "Sonda não concluída",
        "Probe not completed",
        "{text}",
        "{text}",
    ),
    "bad_request": (
        "Requisição inválida",
        "Bad request",
        "A requisição não pôde ser lida: {message}",
        "The request could not be read: {message}",
    ),
    "invalid_cursor": (
        "Cursor inválido",
        "Invalid cursor",
        "O cursor de paginação é inválido; use o next_cursor da página anterior.",
        "The pagination cursor is invalid; use next_cursor from the previous page.",
    ),
    "idempotency_key_invalid": (
        "Idempotency-Key inválida",
        "Invalid Idempotency-Key",
        "A Idempotency-Key deve ter de 1 a 255 caracteres visíveis.",
        "The Idempotency-Key must have 1 to 255 visible characters.",
    ),
    "idempotency_key_reused": (
        "Idempotency-Key reutilizada",
        "Idempotency-Key reused",
        "Esta Idempotency-Key já foi usada com outra requisição. Use uma chave nova para cada operação.",
        "This Idempotency-Key was already used with another request. Use a new key for each operation.",
    ),
    "idempotency_in_progress": (
        "Requisição em andamento",
        "Request in progress",
        "Uma requisição com esta Idempotency-Key ainda está em andamento. Tente de novo em instantes.",
        "A request with this Idempotency-Key is still in progress. Try again shortly.",
    ),
    "service_unavailable": (
        "Serviço indisponível",
        "Service unavailable",
        "O serviço {service} não respondeu a tempo. Tente novamente em instantes.",
        "The {service} service did not answer in time. Try again shortly.",
    ),
    "bad_gateway": (
        "Falha no serviço",
        "Service failure",
        "O serviço {service} não conseguiu responder. Tente novamente em instantes.",
        "The {service} service could not answer. Try again shortly.",
    ),
    "internal": (
        "Erro interno",
        "Internal error",
        "Algo deu errado do nosso lado. Tente novamente; se persistir, fale com o suporte.",
        "Something went wrong on our side. Try again; if it persists, contact support.",
    ),
}


REFUSAL_STATUS: dict[str, int] = {
    "invalid_credentials": 401,
    "email_not_verified": 403,
    "invalid_code": 400,
    "totp_not_started": 409,
    "totp_already_enabled": 409,
    "totp_not_enabled": 409,
    "invalid_link": 400,
    "email_taken": 409,
    "invitation_other_email": 403,
    "already_member": 409,
    "last_owner": 409,
    "owner_only": 403,
    "permission_not_grantable": 422,
    "passkey_challenge": 400,
    "passkey_refused": 401,
    "passkey_invalid": 400,
    "passkey_exists": 409,
    "passkey_limit": 409,
    "last_passkey": 409,
    "not_found": 404,
}
"""HTTP status of each identity rule a request can break (``domain.Refused``)."""


class ApiError(Exception):
    """An error answered to the client as a problem, in their language."""

    def __init__(
        self,
        code: str,
        status: int,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
        **params: Any,
    ) -> None:
        if code not in MESSAGES:
            raise KeyError(f"no message for problem code {code!r}")
        super().__init__(code)
        self.code = code
        self.status = status
        self.params = params
        self.headers = headers or {}
        self.extra = extra or {}


def not_found() -> ApiError:
    """The one answer for a missing id and another company's id alike."""
    return ApiError("not_found", 404)


class Problem(BaseModel):
    """An RFC 9457 problem detail."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "https://hospeda.dev/problems/forbidden",
                    "title": "Sem permissão",
                    "status": 403,
                    "detail": "Você não tem permissão para fazer isso.",
                    "instance": "/api/v1/invoices",
                    "code": "forbidden",
                }
            ]
        },
        extra="allow",
    )

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    code: str = Field(description="Stable machine-readable reason.")


def prefers_english(accept_language: str | None) -> bool:
    """True when English ranks above Portuguese in ``Accept-Language``."""
    if not accept_language:
        return False
    best_pt, best_en = -1.0, -1.0
    for position, part in enumerate(accept_language.split(",")[:20]):
        tag, _, q = part.strip().partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            continue
        weight -= position * 1e-6  # earlier wins among equals
        primary = tag.strip().lower().split("-")[0]
        if primary == "pt":
            best_pt = max(best_pt, weight)
        elif primary == "en":
            best_en = max(best_en, weight)
    return best_en > best_pt


def pick_language(text: str, english: bool) -> str:
    """Services answer "pt-BR text / English text"; keep the client's half."""
    if " / " in text:
        pt, _, en = text.partition(" / ")
        return en.strip() if english else pt.strip()
    return text


def problem_response(
    request: Request,
    code: str,
    status: int,
    *,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    english = prefers_english(request.headers.get("accept-language"))
    title_pt, title_en, detail_pt, detail_en = MESSAGES[code]
    values = {
        k: pick_language(v, english) if k == "message" and isinstance(v, str) else v
        for k, v in (params or {}).items()
    }
    body: dict[str, Any] = {
        "type": f"https://hospeda.dev/problems/{code}",
        "title": title_en if english else title_pt,
        "status": status,
        "detail": (detail_en if english else detail_pt).format(**values),
        "instance": request.url.path,
        "code": code,
        **(extra or {}),
    }
    return JSONResponse(
        body,
        status_code=status,
        media_type=PROBLEM_JSON,
        headers={"Content-Language": "en" if english else "pt-BR", **(headers or {})},
    )


# pydantic error type -> (pt-BR, en); others keep pydantic's English message.
_FIELD_MESSAGES: dict[str, tuple[str, str]] = {
    "missing": ("Campo obrigatório.", "Field required."),
    "string_too_short": (
        "Texto curto demais (mínimo {min_length}).",
        "Text too short (minimum {min_length}).",
    ),
    "string_too_long": (
        "Texto longo demais (máximo {max_length}).",
        "Text too long (maximum {max_length}).",
    ),
    "uuid_parsing": ("Não é um identificador (UUID) válido.", "Not a valid identifier (UUID)."),
    "value_error": ("Valor inválido: {error}", "Invalid value: {error}"),
    "enum": ("Use um destes valores: {expected}.", "Use one of: {expected}."),
    "int_parsing": ("Não é um número inteiro.", "Not an integer."),
    "json_invalid": ("JSON inválido.", "Invalid JSON."),
    "model_attributes_type": ("Esperava um objeto JSON.", "Expected a JSON object."),
    "dict_type": ("Esperava um objeto JSON.", "Expected a JSON object."),
    "string_pattern_mismatch": ("Formato inválido.", "Invalid format."),
    "control_characters": (
        "Caracteres de controle (quebras de linha, tabulações …) não são aceitos.",
        "Control characters (line breaks, tabs …) are not accepted.",
    ),
    "greater_than_equal": ("Deve ser pelo menos {ge}.", "Must be at least {ge}."),
    "less_than_equal": ("Deve ser no máximo {le}.", "Must be at most {le}."),
}


def _field_errors(errors: Sequence[Any], english: bool) -> list[dict[str, Any]]:
    out = []
    for error in list(errors)[:50]:
        kind = str(error.get("type", ""))
        ctx = {k: str(v) for k, v in (error.get("ctx") or {}).items()}
        if kind == "string_pattern_mismatch" and ctx.get("pattern") == NO_CONTROLS:
            kind = "control_characters"
        message = str(error.get("msg", ""))
        if kind in _FIELD_MESSAGES:
            template = _FIELD_MESSAGES[kind][1 if english else 0]
            with contextlib.suppress(KeyError, IndexError):
                message = template.format(**ctx)
        out.append(
            {
                "field": ".".join(str(p) for p in error.get("loc", ())),
                "type": kind,
                "message": message,
            }
        )
    return out


def _allowed(request: Request) -> str:
    """Every method some route offers on this path (Starlette names only the first
    route that matched it: ``OPTIONS /api/v1/company`` said ``GET`` though PATCH exists)."""
    app = request.app
    table: list[tuple[re.Pattern[str], set[str]]] | None = getattr(
        app.state, "methods_by_path", None
    )
    if table is None:
        table = [
            (compile_path(context.path)[0], set(context.original_route.methods or ()))
            for context in iter_route_contexts(app.routes)
            if isinstance(context.original_route, APIRoute)
        ]
        app.state.methods_by_path = table
    methods: set[str] = set()
    for pattern, offered in table:
        if pattern.match(request.url.path):
            methods |= offered
    return ", ".join(sorted(methods))


def install(app: FastAPI) -> None:
    """Answer every error as a problem."""

    @app.exception_handler(ApiError)
    async def on_api_error(request: Request, exc: ApiError) -> JSONResponse:
        return problem_response(
            request, exc.code, exc.status, params=exc.params, headers=exc.headers, extra=exc.extra
        )

    @app.exception_handler(Refused)
    async def on_refused(request: Request, exc: Refused) -> JSONResponse:
        return problem_response(request, exc.code, REFUSAL_STATUS[exc.code], params=exc.params)

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        english = prefers_english(request.headers.get("accept-language"))
        return problem_response(
            request,
            "validation_failed",
            422,
            extra={"errors": _field_errors(exc.errors(), english)},
        )

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return problem_response(request, "route_not_found", 404)
        if exc.status_code == 405:
            headers = {**dict(exc.headers or {}), "Allow": _allowed(request)}
            return problem_response(request, "method_not_allowed", 405, headers=headers)
        if exc.status_code < 500:
            return problem_response(
                request, "bad_request", exc.status_code, params={"message": str(exc.detail)}
            )
        return problem_response(request, "internal", exc.status_code)

    @app.exception_handler(Exception)
    async def on_bug(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return problem_response(request, "internal", 500)


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the problems a route can answer."""
    return {
        status: {"model": Problem, "content": {PROBLEM_JSON: {}}, "description": _REASONS[status]}
        for status in statuses
    }


_REASONS = {
    400: "Bad request",
    401: "Not signed in",
    403: "Forbidden (permission, CSRF, company)",
    404: "Not found — also for another company's ids",
    409: "Conflict",
    422: "Invalid data",
    429: "Too many attempts (Retry-After)",
    503: "The owning service did not answer in time",
}
