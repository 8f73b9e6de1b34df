"""Pix settled by the platform: a PSP's API Pix, the Banco Central's standard
(https://bacen.github.io/pix-api/), over httpx.

What billing uses of it:

- ``PUT /cob/{txid}``: an immediate charge for an invoice, with its expiry;
  the answer's ``pixCopiaECola`` is a dynamic BR Code that carries the PSP's
  location URL (the payer's bank fetches the amount and txid there);
- ``PATCH /cob/{txid}``: withdraw a charge the invoice no longer needs;
- the webhook: the PSP posts ``{"pix": [...]}`` to ``<webhookUrl>/pix`` for
  every Pix received on a txid, and again when a return (``devolucao``)
  reaches a final status; ``PUT /webhook/{chave}`` registers the URL;
- ``GET /pix?inicio&fim``: the Pix received in a period, to reconcile what a
  lost webhook never said;
- ``PUT /pix/{e2eid}/devolucao/{id}``: give a Pix back, whole or in part.

Authentication is OAuth 2 client credentials (plus the PSP's client
certificate for mutual TLS when it asks for one). The standard protects the
webhook with mutual TLS, which belongs to the TLS proxy in front of billing;
a PSP may also sign the body, and this adapter checks that signature
(``Pix-Signature: t=<unix time>,v1=<HMAC-SHA256 of "t.body">``).

Failures are sorted once, here: ``PixUnavailable`` (network, timeout, 5xx,
429) is retried by the job engine; ``PixRejected`` (a ``PermanentError``)
means the PSP refused the request as it is.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

import httpx

from hospeda.billing.pix import format_amount
from hospeda.runtime import metrics
from hospeda.runtime.errors import PermanentError

CHARGE_REMOVED = "REMOVIDA_PELO_USUARIO_RECEBEDOR"
RETURN_FINAL = ("DEVOLVIDO", "NAO_REALIZADO")
_VALUE = re.compile(r"^\d{1,10}\.\d{2}$")


class PixUnavailable(Exception):
    """The PSP could not be reached or answered with a server error; try again."""


class PixRejected(PermanentError):
    """The PSP refused the request as it is (RFC 7807 ``Problema``)."""


class InvalidPixWebhook(ValueError):
    """A webhook whose signature, timestamp or body does not check out."""


@dataclass(frozen=True)
class PixCharge:
    """An immediate charge (``cob``) as the PSP holds it."""

    txid: str
    status: str  # ATIVA | CONCLUIDA | REMOVIDA_PELO_USUARIO_RECEBEDOR | REMOVIDA_PELO_PSP
    amount: int
    copy_paste: str
    location: str


@dataclass(frozen=True)
class PixReturn:
    """A return (``devolucao``) of a received Pix."""

    id: str
    amount: int
    status: str  # EM_PROCESSAMENTO | DEVOLVIDO | NAO_REALIZADO
    reason: str = ""


@dataclass(frozen=True)
class PixReceived:
    """A Pix the PSP received for us (the standard's ``Pix`` object)."""

    end_to_end_id: str
    txid: str | None
    amount: int
    paid_at: datetime
    payer_note: str = ""
    returns: tuple[PixReturn, ...] = ()


class PixProvider(Protocol):
    """What billing needs from a PSP."""

    async def create_charge(
        self, *, txid: str, amount: int, expires_after_s: int, description: str
    ) -> PixCharge: ...

    async def cancel_charge(self, txid: str) -> PixCharge: ...

    async def received(self, *, start: datetime, end: datetime) -> list[PixReceived]: ...

    async def give_back(
        self, *, end_to_end_id: str, return_id: str, amount: int, reason: str
    ) -> PixReturn: ...

    async def returned(self, *, end_to_end_id: str, return_id: str) -> PixReturn: ...

    async def register_webhook(self, url: str) -> None: ...

    def verify_webhook(self, body: bytes, signature: str | None) -> list[PixReceived]: ...


def cents(value: Any) -> int:
    """``"19.90"`` → 1990: the standard writes amounts as decimal strings."""
    text = str(value)
    if not _VALUE.match(text):
        raise ValueError(f"not an API Pix amount: {text!r}")
    try:
        return int(Decimal(text) * 100)
    except InvalidOperation as exc:  # pragma: no cover - the pattern already holds
        raise ValueError(f"not an API Pix amount: {text!r}") from exc


def utc(value: str) -> datetime:
    """An RFC 3339 time of the standard, in UTC."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"a time without an offset: {value!r}")
    return moment.astimezone(UTC)


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def pix_of(item: dict[str, Any]) -> PixReceived:
    """A ``Pix`` object of the standard, checked."""
    try:
        e2e = str(item["endToEndId"])
        if not re.fullmatch(r"[a-zA-Z0-9]{32}", e2e):
            raise ValueError(f"not an endToEndId: {e2e!r}")
        returns = tuple(
            PixReturn(
                id=str(r["id"]),
                amount=cents(r["valor"]),
                status=str(r["status"]),
                reason=str(r.get("motivo") or ""),
            )
            for r in item.get("devolucoes") or ()
        )
        return PixReceived(
            end_to_end_id=e2e,
            txid=str(item["txid"]) if item.get("txid") else None,
            amount=cents(item["valor"]),
            paid_at=utc(str(item["horario"])),
            payer_note=str(item.get("infoPagador") or "")[:140],
            returns=returns,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not an API Pix 'pix' object: {exc}") from exc


def return_of(item: dict[str, Any]) -> PixReturn:
    return PixReturn(
        id=str(item["id"]),
        amount=cents(item["valor"]),
        status=str(item["status"]),
        reason=str(item.get("motivo") or ""),
    )


def sign(body: bytes, secret: str, *, timestamp: int | None = None) -> str:
    """The ``Pix-Signature`` header for ``body`` (what the simulator sends)."""
    moment = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{moment}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={moment},v1={digest}"


class ApiPix:
    """``PixProvider`` over a PSP's API Pix (v2)."""

    def __init__(
        self,
        *,
        base_url: str,
        token_url: str | None,
        client_id: str,
        client_secret: str,
        key: str,
        webhook_secret: str | None,
        client_cert: str | tuple[str, str] | None = None,
        timeout: float = 20.0,
        webhook_tolerance: int = 300,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token_url = token_url or f"{self.base_url}/oauth/token"
        self._credentials = (client_id, client_secret)
        self.key = key
        self._webhook_secret = webhook_secret
        self._tolerance = webhook_tolerance
        self._token: tuple[str, float] | None = None
        self._http = httpx.AsyncClient(timeout=timeout, cert=client_cert)
        metrics.name_provider("pix_psp", self.base_url)

    async def close(self) -> None:
        await self._http.aclose()

    # --- the calls -------------------------------------------------------------------------------

    async def create_charge(
        self, *, txid: str, amount: int, expires_after_s: int, description: str
    ) -> PixCharge:
        """The charge for ``txid``: created, or the one a retry already made
        (a PUT on a txid in use is an error, so look first)."""
        found = await self._call("GET", f"/cob/{txid}", missing_ok=True)
        if found is None:
            found = await self._call(
                "PUT",
                f"/cob/{txid}",
                json={
                    "calendario": {"expiracao": expires_after_s},
                    "valor": {"original": format_amount(amount), "modalidadeAlteracao": 0},
                    "chave": self.key,
                    "solicitacaoPagador": description[:140],
                },
            )
        assert found is not None
        return _charge(found)

    async def cancel_charge(self, txid: str) -> PixCharge:
        found = await self._call("GET", f"/cob/{txid}", missing_ok=True)
        if found is None or found.get("status") != "ATIVA":
            return _charge(found) if found else PixCharge(txid, CHARGE_REMOVED, 0, "", "")
        removed = await self._call("PATCH", f"/cob/{txid}", json={"status": CHARGE_REMOVED})
        assert removed is not None
        return _charge(removed)

    async def received(self, *, start: datetime, end: datetime) -> list[PixReceived]:
        found: list[PixReceived] = []
        page = 0
        while True:
            answer = await self._call(
                "GET",
                "/pix",
                params={
                    "inicio": rfc3339(start),
                    "fim": rfc3339(end),
                    "paginacao.paginaAtual": page,
                    "paginacao.itensPorPagina": 100,
                },
            )
            assert answer is not None
            found.extend(pix_of(item) for item in answer.get("pix") or ())
            pages = int(
                ((answer.get("parametros") or {}).get("paginacao") or {}).get(
                    "quantidadeDePaginas", 1
                )
            )
            page += 1
            if page >= pages:
                return found

    async def give_back(
        self, *, end_to_end_id: str, return_id: str, amount: int, reason: str
    ) -> PixReturn:
        path = f"/pix/{end_to_end_id}/devolucao/{return_id}"
        found = await self._call("GET", path, missing_ok=True)
        if found is None:
            found = await self._call(
                "PUT", path, json={"valor": format_amount(amount), "descricao": reason[:140]}
            )
        assert found is not None
        return return_of(found)

    async def returned(self, *, end_to_end_id: str, return_id: str) -> PixReturn:
        found = await self._call("GET", f"/pix/{end_to_end_id}/devolucao/{return_id}")
        assert found is not None
        return return_of(found)

    async def register_webhook(self, url: str) -> None:
        await self._call("PUT", f"/webhook/{self.key}", json={"webhookUrl": url})

    def verify_webhook(self, body: bytes, signature: str | None) -> list[PixReceived]:
        """The Pix in ``body`` if its signature is good and recent."""
        if not self._webhook_secret:
            raise InvalidPixWebhook("no Pix webhook secret configured")
        if not signature:
            raise InvalidPixWebhook("missing Pix-Signature header")
        parts = dict(p.split("=", 1) for p in signature.split(",") if "=" in p)
        if not parts.get("t", "").isdigit() or "v1" not in parts:
            raise InvalidPixWebhook("malformed Pix-Signature header")
        if abs(time.time() - int(parts["t"])) > self._tolerance:
            raise InvalidPixWebhook("Pix-Signature timestamp outside the tolerance")
        expected = sign(body, self._webhook_secret, timestamp=int(parts["t"])).split("v1=")[1]
        if not hmac.compare_digest(expected, parts["v1"]):
            raise InvalidPixWebhook("Pix-Signature does not match the body")
        try:
            items = json.loads(body)["pix"]
            return [pix_of(item) for item in items]
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidPixWebhook(f"not an API Pix webhook body: {exc}") from exc

    # --- plumbing --------------------------------------------------------------------------------

    async def _bearer(self, *, fresh: bool = False) -> str:
        if self._token and not fresh and self._token[1] > time.monotonic():
            return self._token[0]
        try:
            response = await self._http.post(
                self._token_url,
                data={"grant_type": "client_credentials"},
                auth=self._credentials,
            )
        except httpx.HTTPError as exc:
            raise PixUnavailable(f"PSP token: {type(exc).__name__}") from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise PixUnavailable(f"PSP token: HTTP {response.status_code}")
        if response.status_code != 200:
            raise PixRejected(
                f"o PSP recusou as credenciais / PSP refused our credentials "
                f"(HTTP {response.status_code})"
            )
        token = response.json()
        lifetime = float(token.get("expires_in") or 300)
        self._token = (str(token["access_token"]), time.monotonic() + max(lifetime - 30, 1))
        return self._token[0]

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        missing_ok: bool = False,
    ) -> dict[str, Any] | None:
        for fresh in (False, True):
            token = await self._bearer(fresh=fresh)
            try:
                response = await self._http.request(
                    method,
                    self.base_url + path,
                    json=json,
                    params=params,
                    headers={"Authorization": f"Bearer {token}"},
                )
            except httpx.HTTPError as exc:
                raise PixUnavailable(f"PSP {method} {path}: {type(exc).__name__}") from exc
            if response.status_code != 401:
                break  # a 401 once means the token expired early: get a new one, once
        if response.status_code == 404 and missing_ok:
            return None
        if response.status_code >= 500 or response.status_code in (401, 429):
            raise PixUnavailable(f"PSP {method} {path}: HTTP {response.status_code}")
        if response.status_code >= 400:
            problem = _problem(response)
            raise PixRejected(f"o PSP recusou {method} {path}: {problem}")
        return response.json() if response.content else {}


def _charge(body: dict[str, Any]) -> PixCharge:
    location = str(body.get("location") or (body.get("loc") or {}).get("location") or "")
    return PixCharge(
        txid=str(body["txid"]),
        status=str(body["status"]),
        amount=cents((body.get("valor") or {}).get("original", "0.00")),
        copy_paste=str(body.get("pixCopiaECola") or ""),
        location=location,
    )


def _problem(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    detail = body.get("detail") or body.get("title") or ""
    violations = "; ".join(
        f"{v.get('propriedade', '')}: {v.get('razao', '')}" for v in body.get("violacoes") or ()
    )
    return f"HTTP {response.status_code} {detail} {violations}".strip()
