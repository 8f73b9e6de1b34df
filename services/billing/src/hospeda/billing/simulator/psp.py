"""A local Pix PSP for development and tests: a real HTTP server speaking the
part of the Banco Central's API Pix that billing uses — OAuth 2 client
credentials, immediate charges (``cob``), received Pix, returns
(``devolucao``) and the webhook — with the standard's JSON and its RFC 7807
``Problema`` errors, and a control API (``/_sim/…``) to pay a charge (once,
twice, for another amount), lose webhooks, fail the API or refuse a return.

    python -m hospeda.billing.simulator.psp --port 12112 --key financeiro@… \\
        --client-id … --client-secret … --webhook-secret …

The API is under ``/api/v2``, the token at ``/oauth/token``. Webhooks go to
``<webhookUrl>/pix`` signed with ``Pix-Signature`` (see ``adapters.pix_psp``).
``/pagar/{txid}`` is the payer's bank for a person trying ``make run``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import logging
import re
import secrets
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.routing import Route

from hospeda.billing.adapters.pix_psp import RETURN_FINAL, rfc3339, sign, utc
from hospeda.billing.pix import build_location

log = logging.getLogger("hospeda.billing.simulator.psp")

ISPB = "99999999"  # the simulator's own participant code in endToEndIds
_TXID = re.compile(r"^[a-zA-Z0-9]{26,35}$")
_RETURN_ID = re.compile(r"^[a-zA-Z0-9]{1,35}$")
_VALUE = re.compile(r"^\d{1,10}\.\d{2}$")
ERROR = "https://pix.bcb.gov.br/api/v2/error/"


class Problem(Exception):
    """An API Pix error (RFC 7807 ``Problema``)."""

    def __init__(self, status: int, kind: str, detail: str, **violation: str) -> None:
        super().__init__(detail)
        self.status, self.kind, self.detail = status, kind, detail
        self.violations = [violation] if violation else []

    def response(self) -> JSONResponse:
        body: dict[str, Any] = {
            "type": ERROR + self.kind,
            "title": self.kind,
            "status": self.status,
            "detail": self.detail,
        }
        if self.violations:
            body["violacoes"] = self.violations
        return JSONResponse(body, status_code=self.status, media_type="application/problem+json")


def _now() -> datetime:
    return datetime.now(UTC)


def _cents(value: str) -> int:
    return int(Decimal(value) * 100)


def _value(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


@dataclass
class PspSimulator:
    """The PSP's state: charges, Pix received, returns, webhooks, faults."""

    client_id: str
    client_secret: str
    key: str
    webhook_secret: str
    public_host: str
    merchant_name: str = "Hospeda"
    merchant_city: str = "Sao Paulo"
    webhook_url: str | None = None
    return_delay_s: float = 0.2
    charges: dict[str, dict[str, Any]] = field(default_factory=dict)
    pix: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: dict[str, datetime] = field(default_factory=dict)
    faults: list[dict[str, Any]] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def reset(self) -> None:
        for name in ("charges", "pix", "tokens", "deliveries", "calls"):
            getattr(self, name).clear()
        self.faults.clear()

    def fault(self, mode: str) -> dict[str, Any] | None:
        """Take one use of the first fault of ``mode``, if any is left."""
        for fault in self.faults:
            if fault["mode"] == mode and fault["times"] > 0:
                fault["times"] -= 1
                return fault
        return None

    # --- charges and payments ----------------------------------------------------------------

    def create_charge(self, txid: str, body: dict[str, Any]) -> dict[str, Any]:
        if not _TXID.match(txid):
            raise Problem(
                400,
                "CobOperacaoInvalida",
                "txid inválido",
                propriedade="txid",
                razao="deve ter de 26 a 35 caracteres alfanuméricos",
            )
        if txid in self.charges:
            raise Problem(
                400,
                "CobOperacaoInvalida",
                "txid já utilizado",
                propriedade="txid",
                razao="já existe uma cobrança com este txid",
            )
        expires = (body.get("calendario") or {}).get("expiracao", 86_400)
        if not isinstance(expires, int) or expires <= 0:
            raise Problem(
                400,
                "CobOperacaoInvalida",
                "expiração inválida",
                propriedade="cob.calendario.expiracao",
                razao="inteiro positivo",
            )
        original = str((body.get("valor") or {}).get("original", ""))
        if not _VALUE.match(original) or _cents(original) <= 0:
            raise Problem(
                400,
                "CobOperacaoInvalida",
                "valor inválido",
                propriedade="cob.valor.original",
                razao="formato \\d{1,10}\\.\\d{2}",
            )
        if body.get("chave") != self.key:
            raise Problem(
                400,
                "CobOperacaoInvalida",
                "chave não pertence ao recebedor",
                propriedade="cob.chave",
                razao="chave DICT desconhecida",
            )
        loc_id = len(self.charges) + 1
        location = f"{self.public_host}/qr/v2/{secrets.token_hex(16)}"
        charge = {
            "calendario": {"criacao": rfc3339(_now()), "expiracao": expires},
            "txid": txid,
            "revisao": 0,
            "loc": {"id": loc_id, "location": location, "tipoCob": "cob"},
            "location": location,
            "status": "ATIVA",
            "valor": {"original": original, "modalidadeAlteracao": 0},
            "chave": self.key,
            "solicitacaoPagador": str(body.get("solicitacaoPagador") or "")[:140],
            "pixCopiaECola": build_location(
                location=location,
                merchant_name=self.merchant_name,
                merchant_city=self.merchant_city,
            ),
        }
        self.charges[txid] = charge
        return charge

    def charge(self, txid: str) -> dict[str, Any]:
        charge = self.charges.get(txid)
        if charge is None:
            raise Problem(404, "CobNaoEncontrado", f"cobrança {txid} não encontrada")
        paid = [p for p in self.pix.values() if p.get("txid") == txid]
        return {**charge, "pix": paid} if paid else dict(charge)

    def remove_charge(self, txid: str, status: str) -> dict[str, Any]:
        charge = self.charges.get(txid)
        if charge is None:
            raise Problem(404, "CobNaoEncontrado", f"cobrança {txid} não encontrada")
        if status != "REMOVIDA_PELO_USUARIO_RECEBEDOR" or charge["status"] != "ATIVA":
            raise Problem(
                400,
                "CobOperacaoInvalida",
                f"não se pode passar de {charge['status']} a {status}",
                propriedade="cob.status",
            )
        charge["status"], charge["revisao"] = status, charge["revisao"] + 1
        return self.charge(txid)

    def pay(self, txid: str | None, amount: int | None, *, force: bool = False) -> dict[str, Any]:
        """The payer's bank sends a Pix: for a charge (its amount unless told
        otherwise), or to the key with any txid (``force`` pays a charge that
        is no longer active, as a PSP that reports it anyway would)."""
        charge = self.charges.get(txid or "")
        if charge is not None:
            created = utc(charge["calendario"]["criacao"])
            expired = _now() > created + timedelta(seconds=charge["calendario"]["expiracao"])
            if not force and (charge["status"] != "ATIVA" or expired):
                raise Problem(
                    400,
                    "CobOperacaoInvalida",
                    f"a cobrança está {'expirada' if expired else charge['status']}",
                )
            amount = _cents(charge["valor"]["original"]) if amount is None else amount
            if charge["status"] == "ATIVA":
                charge["status"], charge["revisao"] = "CONCLUIDA", charge["revisao"] + 1
        if amount is None or amount <= 0:
            raise Problem(400, "PixInvalido", "valor do Pix ausente")
        stamp = _now()
        e2e = (
            "E"
            + ISPB
            + stamp.strftime("%Y%m%d%H%M")
            + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(11))
        )
        received = {
            "endToEndId": e2e,
            "txid": txid,
            "valor": _value(amount),
            "chave": self.key,
            "horario": rfc3339(stamp),
            "infoPagador": "Pagamento de teste",
        }
        if not txid:
            del received["txid"]
        self.pix[e2e] = received
        self.deliver([received])
        return received

    def give_back(self, e2e: str, return_id: str, body: dict[str, Any]) -> dict[str, Any]:
        received = self.pix.get(e2e)
        if received is None:
            raise Problem(404, "PixNaoEncontrado", f"Pix {e2e} não encontrado")
        if not _RETURN_ID.match(return_id):
            raise Problem(400, "PixDevolucaoInvalida", "id da devolução inválido", propriedade="id")
        returns = received.setdefault("devolucoes", [])
        if any(r["id"] == return_id for r in returns):
            raise Problem(
                400, "PixDevolucaoInvalida", "id de devolução já utilizado", propriedade="id"
            )
        value = str(body.get("valor", ""))
        if not _VALUE.match(value) or _cents(value) <= 0:
            raise Problem(400, "PixDevolucaoInvalida", "valor inválido", propriedade="valor")
        given = sum(_cents(r["valor"]) for r in returns if r["status"] != "NAO_REALIZADO")
        if given + _cents(value) > _cents(received["valor"]):
            raise Problem(
                400,
                "PixDevolucaoInvalida",
                "o valor devolvido passaria do valor do Pix",
                propriedade="valor",
            )
        stamp = _now()
        entry = {
            "id": return_id,
            "rtrId": "D" + ISPB + stamp.strftime("%Y%m%d%H%M") + secrets.token_hex(6)[:11],
            "valor": value,
            "horario": {"solicitacao": rfc3339(stamp)},
            "status": "EM_PROCESSAMENTO",
        }
        returns.append(entry)
        refused = self.fault("return_refused") is not None
        self._spawn(self._settle_return(received, entry, refused=refused))
        return dict(entry)

    def returned(self, e2e: str, return_id: str) -> dict[str, Any]:
        for entry in (self.pix.get(e2e) or {}).get("devolucoes", []):
            if entry["id"] == return_id:
                return dict(entry)
        raise Problem(404, "PixDevolucaoNaoEncontrada", f"devolução {return_id} não encontrada")

    async def _settle_return(
        self, received: dict[str, Any], entry: dict[str, Any], *, refused: bool
    ) -> None:
        await asyncio.sleep(self.return_delay_s)
        if refused:
            entry["status"], entry["motivo"] = "NAO_REALIZADO", "Conta do pagador encerrada"
        else:
            entry["status"] = "DEVOLVIDO"
            entry["horario"]["liquidacao"] = rfc3339(_now())
        self.deliver([received])

    def received(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        return sorted(
            (p for p in self.pix.values() if start <= utc(p["horario"]) <= end),
            key=lambda p: p["horario"],
        )

    # --- the webhook -------------------------------------------------------------------------

    def deliver(self, items: list[dict[str, Any]]) -> None:
        if self.webhook_url:
            self._spawn(self._deliver(self.webhook_url, [json.loads(json.dumps(i)) for i in items]))

    async def _deliver(self, url: str, items: list[dict[str, Any]]) -> None:
        if self.fault("webhook_drop") is not None:
            self.deliveries.append({"url": url, "status": "dropped", "pix": _ids(items)})
            return
        body = json.dumps({"pix": items}).encode()
        for attempt in range(4):  # the PSP's own retries
            status: int | str
            try:
                async with httpx.AsyncClient(timeout=5) as client:
                    response = await client.post(
                        url.rstrip("/") + "/pix",
                        content=body,
                        headers={
                            "content-type": "application/json",
                            "pix-signature": sign(body, self.webhook_secret),
                        },
                    )
                status = response.status_code
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            self.deliveries.append({"url": url, "status": status, "pix": _ids(items)})
            if isinstance(status, int) and status < 300:
                return
            await asyncio.sleep(0.3 * 2**attempt)

    def _spawn(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def state(self) -> dict[str, Any]:
        return {
            "charges": [self.charge(t) for t in self.charges],
            "pix": list(self.pix.values()),
            "deliveries": self.deliveries,
            "webhook_url": self.webhook_url,
            "faults": self.faults,
            "calls": self.calls,
            "settling": sum(
                1
                for p in self.pix.values()
                for r in p.get("devolucoes", [])
                if r["status"] not in RETURN_FINAL
            ),
        }


def _ids(items: list[dict[str, Any]]) -> list[str]:
    return [str(i["endToEndId"]) for i in items]


def create_app(sim: PspSimulator) -> Starlette:
    async def token(request: Request) -> JSONResponse:
        header = request.headers.get("authorization", "")
        try:
            user, _, password = (
                base64.b64decode(header.removeprefix("Basic ")).decode().partition(":")
            )
        except ValueError:
            user = password = ""
        form = await request.form()
        if (user, password) != (sim.client_id, sim.client_secret):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        issued = secrets.token_urlsafe(24)
        sim.tokens[issued] = _now() + timedelta(hours=1)
        return JSONResponse(
            {
                "access_token": issued,
                "token_type": "Bearer",
                "expires_in": 3600,
                "scope": "cob.write cob.read pix.write pix.read webhook.write webhook.read",
            }
        )

    def api(handler: Any) -> Any:
        async def endpoint(request: Request) -> JSONResponse:
            sim.calls.append(f"{request.method} {request.url.path}")
            bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
            if sim.tokens.get(bearer, _now()) <= _now() or sim.fault("token_expired"):
                return Problem(401, "AcessoNegado", "token ausente ou expirado").response()
            if sim.fault("api_unavailable"):
                return Problem(503, "ServicoIndisponivel", "serviço indisponível").response()
            try:
                body = await request.json() if request.method in ("PUT", "PATCH") else {}
                if not isinstance(body, dict):
                    raise Problem(400, "RequisicaoInvalida", "o corpo deve ser um objeto JSON")
                status, answer = handler(request, body)
            except Problem as problem:
                return problem.response()
            except ValueError:
                return Problem(400, "RequisicaoInvalida", "JSON inválido").response()
            return JSONResponse(answer, status_code=status)

        return endpoint

    def put_cob(request: Request, body: dict[str, Any]) -> tuple[int, Any]:
        return 201, sim.create_charge(request.path_params["txid"], body)

    def get_cob(request: Request, _: dict[str, Any]) -> tuple[int, Any]:
        return 200, sim.charge(request.path_params["txid"])

    def patch_cob(request: Request, body: dict[str, Any]) -> tuple[int, Any]:
        return 200, sim.remove_charge(request.path_params["txid"], str(body.get("status")))

    def list_pix(request: Request, _: dict[str, Any]) -> tuple[int, Any]:
        params = request.query_params
        try:
            start, end = utc(params["inicio"]), utc(params["fim"])
            page = int(params.get("paginacao.paginaAtual", 0))
            size = int(params.get("paginacao.itensPorPagina", 100))
        except (KeyError, ValueError) as exc:
            raise Problem(400, "ConsultaInvalida", f"parâmetros inválidos: {exc}") from exc
        if not 1 <= size <= 1000 or page < 0:
            raise Problem(400, "ConsultaInvalida", "paginação inválida")
        found = sim.received(start, end)
        pages = max(1, -(-len(found) // size))
        return 200, {
            "parametros": {
                "inicio": params["inicio"],
                "fim": params["fim"],
                "paginacao": {
                    "paginaAtual": page,
                    "itensPorPagina": size,
                    "quantidadeDePaginas": pages,
                    "quantidadeTotalDeItens": len(found),
                },
            },
            "pix": found[page * size : (page + 1) * size],
        }

    def get_pix(request: Request, _: dict[str, Any]) -> tuple[int, Any]:
        found = sim.pix.get(request.path_params["e2eid"])
        if found is None:
            raise Problem(404, "PixNaoEncontrado", "Pix não encontrado")
        return 200, found

    def put_return(request: Request, body: dict[str, Any]) -> tuple[int, Any]:
        return 201, sim.give_back(request.path_params["e2eid"], request.path_params["id"], body)

    def get_return(request: Request, _: dict[str, Any]) -> tuple[int, Any]:
        return 200, sim.returned(request.path_params["e2eid"], request.path_params["id"])

    def put_webhook(request: Request, body: dict[str, Any]) -> tuple[int, Any]:
        if request.path_params["chave"] != sim.key:
            raise Problem(404, "WebhookNaoEncontrado", "chave não pertence ao recebedor")
        url = str(body.get("webhookUrl") or "")
        if not url.startswith(("https://", "http://")):
            raise Problem(
                400, "WebhookOperacaoInvalida", "webhookUrl inválida", propriedade="webhookUrl"
            )
        sim.webhook_url = url
        return 200, {}

    def get_webhook(request: Request, _: dict[str, Any]) -> tuple[int, Any]:
        if request.path_params["chave"] != sim.key or not sim.webhook_url:
            raise Problem(404, "WebhookNaoEncontrado", "nenhum webhook para esta chave")
        return 200, {"webhookUrl": sim.webhook_url, "chave": sim.key}

    async def control(request: Request) -> JSONResponse:
        action = request.path_params["action"]
        body = await request.json() if request.method == "POST" and await request.body() else {}
        try:
            if action == "reset":
                sim.reset()
                return JSONResponse({"ok": True})
            if action == "faults":
                sim.faults.append({"mode": str(body["mode"]), "times": int(body.get("times", 1))})
                return JSONResponse({"faults": sim.faults})
            if action == "pay":
                paid = [
                    sim.pay(
                        body.get("txid"), body.get("amount_cents"), force=bool(body.get("force"))
                    )
                    for _ in range(int(body.get("times", 1)))
                ]
                return JSONResponse({"pix": paid})
            if action == "redeliver":
                sim.deliver([sim.pix[str(body["end_to_end_id"])]])
                return JSONResponse({"ok": True})
            if action == "state":
                return JSONResponse(sim.state())
        except Problem as problem:
            return problem.response()
        except (KeyError, TypeError, ValueError) as exc:
            return JSONResponse({"error": f"bad control request: {exc}"}, status_code=400)
        return JSONResponse({"error": f"unknown control {action}"}, status_code=404)

    async def bank(request: Request) -> HTMLResponse | RedirectResponse:
        """The payer's bank, for a person trying the platform locally."""
        txid = request.path_params["txid"]
        if request.method == "POST":
            with contextlib.suppress(Problem):
                sim.pay(txid, None)
            return RedirectResponse(f"/pagar/{txid}", status_code=303)
        charge = sim.charges.get(txid)
        if charge is None:
            return HTMLResponse("<p>Cobrança não encontrada / charge not found</p>", 404)
        paid = charge["status"] == "CONCLUIDA"
        return HTMLResponse(
            f"""<!doctype html><html lang="pt-BR"><meta charset="utf-8">
<title>Banco de teste — Pix</title>
<main style="font-family:sans-serif;max-width:28rem;margin:2rem auto">
<h1>Banco de teste (simulador)</h1>
<p>{charge["solicitacaoPagador"]}: <strong>R$ {charge["valor"]["original"]}</strong></p>
<p>Situação / status: <strong id="status">{charge["status"]}</strong></p>
{
                "<p>Pago. Pode voltar à fatura. / Paid.</p>"
                if paid
                else '<form method="post"><button type="submit" id="pay">Pagar com Pix / Pay</button></form>'
            }
</main></html>"""
        )

    async def location(request: Request) -> JSONResponse:
        """What a payer's bank fetches at a dynamic code's location (the
        standard signs it as a JWS; the simulator answers the plain charge)."""
        for charge in sim.charges.values():
            if charge["location"].endswith("/" + request.path_params["id"]):
                return JSONResponse(sim.charge(charge["txid"]))
        return JSONResponse({"error": "not found"}, status_code=404)

    return Starlette(
        routes=[
            Route("/oauth/token", token, methods=["POST"]),
            Route("/api/v2/cob/{txid}", api(put_cob), methods=["PUT"]),
            Route("/api/v2/cob/{txid}", api(get_cob), methods=["GET"]),
            Route("/api/v2/cob/{txid}", api(patch_cob), methods=["PATCH"]),
            Route("/api/v2/pix", api(list_pix), methods=["GET"]),
            Route("/api/v2/pix/{e2eid}", api(get_pix), methods=["GET"]),
            Route("/api/v2/pix/{e2eid}/devolucao/{id}", api(put_return), methods=["PUT"]),
            Route("/api/v2/pix/{e2eid}/devolucao/{id}", api(get_return), methods=["GET"]),
            Route("/api/v2/webhook/{chave}", api(put_webhook), methods=["PUT"]),
            Route("/api/v2/webhook/{chave}", api(get_webhook), methods=["GET"]),
            Route("/_sim/{action}", control, methods=["POST", "GET"]),
            Route("/pagar/{txid}", bank, methods=["GET", "POST"]),
            Route("/qr/v2/{id}", location, methods=["GET"]),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m hospeda.billing.simulator.psp")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12112)
    parser.add_argument("--key", required=True, help="the receiving Pix key")
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--webhook-secret", required=True)
    parser.add_argument("--webhook-url", default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    sim = PspSimulator(
        client_id=args.client_id,
        client_secret=args.client_secret,
        key=args.key,
        webhook_secret=args.webhook_secret,
        public_host=f"{args.host}:{args.port}",
        webhook_url=args.webhook_url,
    )
    uvicorn.run(
        create_app(sim), host=args.host, port=args.port, log_level="warning", access_log=False
    )


if __name__ == "__main__":
    main()
