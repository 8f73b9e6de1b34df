"""The staff console (``/equipe``), for staff only:

- the pipeline probe: a message through billing → provisioning → dns → notify and back;
- companies: search, their people, and acting on one with a reason (the audited
  acting flow of ``/api/v1/staff/acting``);
- notification templates, previewed in both languages with sample data;
- dead letters of every topic: what, from where, why — never the message itself;
- provisioning jobs of every company by state, each with its step log, retried or
  cancelled here (operators and superadmins);
- the audit log's integrity check (the audit service's ``log.verify``, what
  ``hospeda audit verify`` runs).
"""

from __future__ import annotations

import contextlib
import json
from typing import Annotated, Any, Literal
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from hospeda.contracts.jobs import CancelJob, RetryJob
from hospeda.contracts.topics import PROVISIONING_COMMANDS, TOPICS
from hospeda.gateway.api import ApiRoute, allow, decode_cursor, page_of
from hospeda.gateway.context import RequestContext
from hospeda.gateway.deps import CompaniesDep, ForwardDep, SettingsDep, StaffDep
from hospeda.gateway.permissions import Permission as P
from hospeda.gateway.problems import ApiError
from hospeda.gateway.schemas.provisioning import JobCancelIn
from hospeda.gateway.schemas.staff import ActOnCompany
from hospeda.gateway.web.render import english, field_errors, form_of, page, redirect
from hospeda.runtime import lag
from hospeda.runtime.broker import kafka_client_options

router = APIRouter(include_in_schema=False, route_class=ApiRoute)


@router.get("/equipe")
async def console(ctx: Annotated[RequestContext, allow(P.STAFF_COMPANIES)]) -> Response:
    return page(ctx.request, "equipe.html", ctx)


# --- companies and acting on one -------------------------------------------------------------

COMPANIES_PAGE = 50
StaffOnly = Annotated[RequestContext, allow(P.STAFF_COMPANIES)]


@router.get("/equipe/empresas")
async def companies(
    ctx: StaffOnly,
    staff: StaffDep,
    q: Annotated[str, Query(max_length=200)] = "",
    cursor: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """Every company, or those whose name has ``q``, a page at a time."""
    query = q.strip() or None
    rows = await staff.search_companies(
        query=query, after=decode_cursor(cursor or None), limit=COMPANIES_PAGE + 1
    )
    found, next_cursor = page_of(list(rows), COMPANIES_PAGE, lambda row: row.id)
    more = urlencode({"q": q, "cursor": next_cursor}) if next_cursor else None
    return page(ctx.request, "equipe_empresas.html", ctx, companies=found, q=q, more=more)


async def _company_page(
    ctx: RequestContext,
    companies: CompaniesDep,
    company_id: UUID,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    profile = await companies.profile(company_id)
    people = await companies.members(company_id, after=None, limit=100)
    return page(
        ctx.request,
        "equipe_empresa.html",
        ctx,
        status=status,
        company=profile,
        people=people,
        errors=errors or {},
        form=form or {},
    )


@router.get("/equipe/empresas/{company_id}")
async def company(company_id: UUID, ctx: StaffOnly, companies: CompaniesDep) -> Response:
    """A company and its people (names, e-mails, roles), and the form to act on it."""
    return await _company_page(ctx, companies, company_id)


@router.post("/equipe/empresas/{company_id}/agir")
async def act(
    company_id: UUID,
    request: Request,
    ctx: StaffOnly,
    staff: StaffDep,
    companies: CompaniesDep,
) -> Response:
    """Open the company's area with this staff role's rights, for a reason that is
    kept in the company's trail; the session gets a new id."""
    form = await form_of(request)
    try:
        body = ActOnCompany.model_validate({"company_id": company_id, "reason": form.get("reason")})
    except ValidationError as exc:
        errors = field_errors(exc, english(request))
        return await _company_page(ctx, companies, company_id, status=422, errors=errors, form=form)
    session = await staff.act_on_company(ctx.origin, ctx.session, company_id, body.reason)
    ctx.start_session(session)
    return redirect("/app/servicos")


@router.post("/equipe/parar-de-agir")
async def stop_acting(ctx: StaffOnly, staff: StaffDep) -> Response:
    """Back to the staff member's own company (recorded in the acted-on company's trail)."""
    if ctx.session.acting_company_id is not None:
        ctx.start_session(await staff.stop_acting(ctx.origin, ctx.session))
    return redirect("/equipe/empresas")


# --- notification templates -------------------------------------------------------------------

TemplateName = Annotated[str, Path(max_length=100, pattern=r"^[a-z0-9-]+$")]
Locale = Literal["pt-BR", "en"]
StaffTemplates = Annotated[RequestContext, allow(P.STAFF_TEMPLATES)]
# an e-mail's own HTML, framed by the preview page: its inline styles, no script, no
# request anywhere, only inside this site's frames
EMAIL_PREVIEW_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; sandbox"
)


async def _preview(ctx: RequestContext, forward: ForwardDep, name: str) -> dict[str, Any]:
    found = await forward.ask(ctx, "notify", "templates.preview", {"template": name}, platform=True)
    if not isinstance(found, dict):
        raise ApiError("bad_gateway", 502, service="notify")
    return found


@router.get("/equipe/modelos")
async def templates(ctx: StaffTemplates, forward: ForwardDep) -> Response:
    """Every notice notify sends: category, channels, and whether one may unsubscribe."""
    found = await forward.ask(ctx, "notify", "templates.list", {}, platform=True)
    items = found.get("items", []) if isinstance(found, dict) else []
    return page(ctx.request, "equipe_modelos.html", ctx, templates=items)


@router.get("/equipe/modelos/{template}")
async def template(
    template: TemplateName, ctx: StaffTemplates, forward: ForwardDep, idioma: Locale = "pt-BR"
) -> Response:
    """One template with sample data: the e-mail's subject, text and HTML, and the push."""
    preview = await _preview(ctx, forward, template)
    return page(
        ctx.request, "equipe_modelo.html", ctx, preview=preview, shown=preview.get(idioma) or {},
        locale=idioma,
    )  # fmt: skip


@router.get("/equipe/modelos/{template}/{locale}.html")
async def template_html(
    template: TemplateName, locale: Locale, ctx: StaffTemplates, forward: ForwardDep
) -> Response:
    """The e-mail's HTML as a mail reader gets it, for the preview page's frame."""
    preview = await _preview(ctx, forward, template)
    html = str((preview.get(locale) or {}).get("html") or "")
    headers = {"Content-Security-Policy": EMAIL_PREVIEW_CSP, "X-Frame-Options": "SAMEORIGIN"}
    return HTMLResponse(html, headers=headers)


# --- dead letters ------------------------------------------------------------------------------

DEAD_LETTER_TOPICS = {t.dlq: t for t in TOPICS}
SHOWN_DEAD_LETTERS = 200


@router.get("/equipe/mensagens-paradas")
async def dead_letters(
    ctx: Annotated[RequestContext, allow(P.STAFF_JOBS)],
    settings: SettingsDep,
    topico: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """Each topic's dead letters (messages a consumer could not handle) and, for one
    topic, each of them: its type, where it came from, when and why. The messages
    themselves are not shown (they carry customers' data); `hospeda dlq show` and
    `hospeda dlq redrive` act on them, as the page says."""
    if topico and topico not in DEAD_LETTER_TOPICS:
        raise ApiError("not_found", 404)
    offsets = lag.Offsets(settings.kafka_bootstrap_servers, kafka_client_options(settings))
    await offsets.start()
    try:
        sizes = await offsets.sizes(DEAD_LETTER_TOPICS)
        records = (await offsets.records(topico))[-SHOWN_DEAD_LETTERS:] if topico else []
    finally:
        await offsets.stop()
    parked = [_dead_letter(r) for r in records]
    return page(
        ctx.request,
        "equipe_mensagens.html",
        ctx,
        sizes=sorted(((n, c) for n, c in sizes.items() if c), key=lambda item: -item[1]),
        topic=topico,
        parked=parked,
    )


def _dead_letter(record: Any) -> dict[str, str]:
    headers = {k: v.decode(errors="replace") for k, v in (record.headers or ())}
    kind = headers.get("type", "")
    if not kind:  # an envelope names its type; anything else is shown as unknown
        with contextlib.suppress(ValueError, AttributeError, TypeError):
            kind = str(json.loads(record.value).get("type", ""))
    return {
        "ref": f"{record.partition}:{record.offset}",
        "type": kind or "?",
        "origin": f"{headers.get('x-dlq-original-topic', '?')}"
        f"[{headers.get('x-dlq-original-partition', '?')}]"
        f"@{headers.get('x-dlq-original-offset', '?')}",
        "group": headers.get("x-dlq-consumer-group", ""),
        "at": headers.get("x-dlq-at", ""),
        "reason": headers.get("x-dlq-reason", "")[:500],
    }


# --- jobs -------------------------------------------------------------------------------------

JOB_STATES = ("failed", "running", "queued", "succeeded", "cancelled")


@router.get("/equipe/tarefas")
async def jobs(
    ctx: Annotated[RequestContext, allow(P.STAFF_JOBS)],
    forward: ForwardDep,
    estado: Annotated[str, Query(pattern="^(" + "|".join(JOB_STATES) + ")$")] = "failed",
) -> Response:
    """Provisioning jobs of every company in one state: what gave up, with its
    last error (the provider's own words, which customers never see)."""
    found = await forward.page(
        ctx, "provisioning", "jobs.list", limit=100, cursor=None, state=estado, platform=True
    )
    return page(
        ctx.request,
        "tarefas.html",
        ctx,
        jobs=found.items,
        state=estado,
        states=JOB_STATES,
        sent=ctx.request.query_params.get("enviado"),
    )


RETRY_ALL_MAX = 100  # one click retries at most this many (the page shows as many)


async def _job(ctx: RequestContext, forward: ForwardDep, job_id: UUID) -> dict[str, Any]:
    return await forward.get(ctx, "provisioning", "jobs.get", platform=True, job_id=job_id)


async def _send(ctx: RequestContext, forward: ForwardDep, command: RetryJob | CancelJob) -> None:
    """The job command on provisioning's topic, with its audit record (as the CLI's)."""
    action = "job.retry" if isinstance(command, RetryJob) else "job.cancel"
    await forward.command(
        ctx,
        command,
        topic=PROVISIONING_COMMANDS,
        key=command.job_id,
        action=action,
        entity="job",
        entity_id=command.job_id,
    )


@router.get("/equipe/tarefas/{job_id}")
async def job(
    job_id: UUID, ctx: Annotated[RequestContext, allow(P.STAFF_JOBS)], forward: ForwardDep
) -> Response:
    """One job: its step log and last error (never its payload, which may carry a
    customer's password), and what an operator may do with it."""
    found = await _job(ctx, forward, job_id)
    return page(ctx.request, "tarefa.html", ctx, job=found, errors={}, form={})


@router.post("/equipe/tarefas/{job_id}/tentar")
async def retry(
    job_id: UUID, ctx: Annotated[RequestContext, allow(P.STAFF_JOBS_OPERATE)], forward: ForwardDep
) -> Response:
    """A failed job back to the queue with fresh attempts."""
    found = await _job(ctx, forward, job_id)
    if found.get("state") != "failed":
        return _refused(ctx, found, "Só uma tarefa que falhou pode ser tentada de novo.",
                        "Only a failed job can be retried.")  # fmt: skip
    await _send(ctx, forward, RetryJob(job_id=job_id))
    return redirect("/equipe/tarefas?estado=failed&enviado=1")


@router.post("/equipe/tarefas/{job_id}/cancelar")
async def cancel(
    job_id: UUID,
    request: Request,
    ctx: Annotated[RequestContext, allow(P.STAFF_JOBS_OPERATE)],
    forward: ForwardDep,
) -> Response:
    """Stop a queued, retrying or failed job; the reason is kept in its log and the audit."""
    found = await _job(ctx, forward, job_id)
    form = await form_of(request)
    try:
        body = JobCancelIn.model_validate({"reason": form.get("reason", "").strip()})
    except ValidationError as exc:
        errors = field_errors(exc, english(request))
        return page(request, "tarefa.html", ctx, status=422, job=found, errors=errors, form=form)
    if not body.reason:  # a destructive act: the operator says why
        errors = {"reason": "Say why." if english(request) else "Diga o motivo."}
        return page(request, "tarefa.html", ctx, status=422, job=found, errors=errors, form=form)
    if found.get("state") not in ("queued", "failed"):
        return _refused(ctx, found, "Esta tarefa não pode mais ser cancelada.",
                        "This job can no longer be cancelled.")  # fmt: skip
    await _send(ctx, forward, CancelJob(job_id=job_id, reason=body.reason))
    return redirect("/equipe/tarefas?estado=cancelled&enviado=1")


@router.post("/equipe/tarefas/tentar-todas")
async def retry_all(
    ctx: Annotated[RequestContext, allow(P.STAFF_JOBS_OPERATE)], forward: ForwardDep
) -> Response:
    """Every failed job (up to ``RETRY_ALL_MAX``) back to the queue."""
    found = await forward.page(
        ctx, "provisioning", "jobs.list", limit=RETRY_ALL_MAX, cursor=None, state="failed",
        platform=True,
    )  # fmt: skip
    sent = 0
    for item in found.items:
        if item.get("state") == "failed":
            await _send(ctx, forward, RetryJob(job_id=UUID(str(item["id"]))))
            sent += 1
    return redirect(f"/equipe/tarefas?estado=failed&enviado={sent}")


def _refused(ctx: RequestContext, found: dict[str, Any], pt: str, en: str) -> Response:
    message = en if english(ctx.request) else pt
    return page(
        ctx.request, "tarefa.html", ctx, status=409, job=found, errors={"form": message}, form={}
    )


VERIFY_TIMEOUT_S = (
    55.0  # a whole log is recomputed; under a proxy's usual 60 s (the CLI waits longer)
)


@router.get("/equipe/auditoria")
async def audit_check(
    ctx: Annotated[RequestContext, allow(P.STAFF_COMPANIES)],
    forward: ForwardDep,
    verificar: str = "",
    empresa: str = "",
) -> Response:
    """The audit log's integrity check: every hash, chain link, Merkle root and
    checkpoint signature recomputed by the audit service (``?verificar=1``;
    ``empresa``: that company's chain too). There is no staff permission for the
    log itself: the audit service lets any staff member ask, and so does this."""
    en = english(ctx.request)
    company = empresa.strip()
    errors: dict[str, str] = {}
    if company:
        try:
            company = str(UUID(company))
        except ValueError:
            errors["empresa"] = (
                "Not a valid identifier (UUID)." if en else "Não é um identificador (UUID) válido."
            )
    report: dict[str, Any] | None = None
    if verificar and not errors:
        answer = await forward.ask(
            ctx,
            "audit",
            "log.verify",
            {"company": company} if company else {},
            platform=True,
            timeout=VERIFY_TIMEOUT_S,
        )
        if not isinstance(answer, dict) or not isinstance(answer.get("ok"), bool):
            raise ApiError("bad_gateway", 502, service="audit")
        report = answer
    return page(
        ctx.request,
        "equipe_auditoria.html",
        ctx,
        status=422 if errors else 200,
        company=company,
        errors=errors,
        report=report,
    )
