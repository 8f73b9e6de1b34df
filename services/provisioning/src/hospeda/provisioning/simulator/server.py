"""The simulated WHM server over HTTP.

- ``/json-api/<function>`` (GET or POST): WHM API 1 JSON, ``api.version=1``
  required, ``Authorization: whm <user>:<token>`` checked; ``uapi_cpanel``
  runs UAPI functions as an account.
- ``/cpsess<token>/login/?session=…``: the single-use login links that
  ``create_user_session`` hands out.
- ``/__sim/…``: the control endpoint for tests, benchmarks and people:
  ``GET state``, ``POST faults`` (see ``Fault``), ``DELETE faults``,
  ``POST latency`` (``{"seconds": 0.2}`` on every call), ``POST dcv``
  (``{"domain": …, "failing": true}``: AutoSSL cannot validate it),
  ``POST reset``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from hospeda.provisioning.simulator.whm import (
    READ_ONLY,
    WHM_FUNCTIONS,
    Fault,
    Refusal,
    UapiErrors,
    WhmState,
)

log = logging.getLogger(__name__)


class WhmSimulator:
    """One simulated WHM server: its state, its faults and its HTTP app."""

    def __init__(
        self,
        state: WhmState | None = None,
        *,
        user: str = "root",
        token: str,
        latency: float = 0.0,
        state_file: Path | None = None,
    ) -> None:
        self.state = state or WhmState()
        self.user = user
        self.token = token
        self.latency = latency
        self.state_file = state_file
        self.faults: list[Fault] = []
        self.calls: Counter[str] = Counter()
        self.inflight = 0
        self.peak_inflight = 0
        self.stopping = asyncio.Event()
        self.app = Starlette(
            routes=[
                Route("/json-api/{function}", self.json_api, methods=["GET", "POST"]),
                Route("/{cpsess:path}/login/", self.login, methods=["GET"]),
                Route("/__sim/state", self.get_state, methods=["GET"]),
                Route("/__sim/faults", self.add_faults, methods=["POST"]),
                Route("/__sim/faults", self.clear_faults, methods=["DELETE"]),
                Route("/__sim/latency", self.set_latency, methods=["POST"]),
                Route("/__sim/dcv", self.set_dcv, methods=["POST"]),
                Route("/__sim/reset", self.reset, methods=["POST"]),
            ]
        )

    # --- WHM API 1 / UAPI -------------------------------------------------------------

    async def json_api(self, request: Request) -> Response:
        self.inflight += 1
        self.peak_inflight = max(self.peak_inflight, self.inflight)
        try:
            return await self._json_api(request)
        finally:
            self.inflight -= 1

    async def _json_api(self, request: Request) -> Response:
        function = request.path_params["function"]
        if self.latency:
            await self._sleep(self.latency)
        if request.headers.get("authorization") != f"whm {self.user}:{self.token}":
            return PlainTextResponse("Access denied: invalid API token", status_code=403)
        params = dict(request.query_params)
        params.update(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        key = function
        if function == "uapi_cpanel":
            key = f"{params.get('cpanel.module')}::{params.get('cpanel.function')}"
        self.calls[key] += 1
        fault = self._take_fault(key)
        if fault is not None:
            if fault.kind == "error":
                return PlainTextResponse(
                    "Internal Server Error (simulated)", status_code=fault.status
                )
            if fault.kind == "refuse":
                return self._refusal(function, fault.reason, uapi=function == "uapi_cpanel")
            if fault.kind == "slow" or (fault.kind == "timeout" and not fault.after):
                await self._sleep(fault.delay)
                if fault.kind == "timeout":
                    return PlainTextResponse("Gateway Timeout (simulated)", status_code=504)
        if params.get("api.version") != "1":
            return _whm(
                function,
                None,
                result=0,
                reason="This server answers WHM API 1 only: send api.version=1.",
            )
        response = self._handle(function, params, str(request.base_url).rstrip("/"))
        if fault is not None and fault.kind == "timeout" and fault.after:
            await self._sleep(fault.delay)  # the work is done; the answer never arrives in time
            return PlainTextResponse("Gateway Timeout (simulated)", status_code=504)
        return response

    def _handle(self, function: str, params: dict[str, str], base_url: str) -> Response:
        state = self.state
        try:
            if function == "uapi_cpanel":
                user = params.pop("cpanel.user", "")
                module, name = params.pop("cpanel.module", ""), params.pop("cpanel.function", "")
                account = state.accounts.get(user)
                if account is None:
                    raise Refusal(f"The user “{user}” does not exist.")
                try:
                    data = state.uapi(account, module, name, params)
                    uapi = {"status": 1, "errors": None, "data": data}
                except UapiErrors as exc:
                    uapi = {"status": 0, "errors": list(exc.args[0]), "data": None}
                response = _whm(
                    function, {"uapi": {**uapi, "messages": None, "warnings": None, "metadata": {}}}
                )
            elif function == "createacct":
                data, reason = state.createacct(params, base_url)
                response = _whm(
                    function,
                    data,
                    reason=reason,
                    output=f"Account Creation Ok\nDomain: {data and params.get('domain')}\n",
                )
            elif function == "create_user_session":
                response = _whm(
                    function, state.create_user_session(params, base_url), reason="Created session"
                )
            elif function in WHM_FUNCTIONS:
                response = _whm(function, getattr(state, function)(params))
            else:
                return _whm(
                    function, None, result=0, reason=f"Unknown WHM API 1 function “{function}”."
                )
        except Refusal as exc:
            return _whm(function, None, result=0, reason=str(exc))
        if self.state_file is not None and function not in READ_ONLY:
            state.save(self.state_file)
        return response

    def _refusal(self, function: str, reason: str, *, uapi: bool) -> Response:
        if uapi:
            return _whm(
                function,
                {
                    "uapi": {
                        "status": 0,
                        "errors": [reason],
                        "data": None,
                        "messages": None,
                        "warnings": None,
                        "metadata": {},
                    }
                },
            )
        return _whm(function, None, result=0, reason=reason)

    def _take_fault(self, key: str) -> Fault | None:
        for fault in self.faults:
            if fault.function in (key, "*") and fault.times != 0:
                fault.times -= 1
                if fault.times == 0:
                    self.faults.remove(fault)
                return fault
        return None

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)

    async def login(self, request: Request) -> Response:
        user = self.state.login(request.query_params.get("session", ""))
        if user is None:
            return PlainTextResponse(
                "Sessão inválida ou já usada / invalid or used session", status_code=401
            )
        return HTMLResponse(f"<h1>cPanel (simulado)</h1><p>Bem-vindo, {user}.</p>")

    # --- control ----------------------------------------------------------------------------

    async def get_state(self, request: Request) -> Response:
        return JSONResponse(
            {
                **self.state.snapshot(),
                "calls": dict(self.calls),
                "inflight": self.inflight,
                "peak_inflight": self.peak_inflight,
                "latency": self.latency,
                "faults": [asdict(f) for f in self.faults],
            }
        )

    async def add_faults(self, request: Request) -> Response:
        body = await request.json()
        try:
            added = [Fault(**item) for item in (body if isinstance(body, list) else [body])]
        except (TypeError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        self.faults.extend(added)
        return JSONResponse({"faults": [asdict(f) for f in self.faults]})

    async def clear_faults(self, request: Request) -> Response:
        self.faults.clear()
        return JSONResponse({"faults": []})

    async def set_latency(self, request: Request) -> Response:
        self.latency = float((await request.json()).get("seconds", 0))
        return JSONResponse({"latency": self.latency})

    async def set_dcv(self, request: Request) -> Response:
        body = await request.json()
        domain = str(body["domain"])
        failing = [d for d in self.state.dcv_failing if d != domain]
        if body.get("failing", True):
            failing.append(domain)
        self.state.dcv_failing = failing
        return JSONResponse({"dcv_failing": failing})

    async def reset(self, request: Request) -> Response:
        self.state.accounts.clear()
        self.state.sessions.clear()
        self.state.dcv_failing.clear()
        self.faults.clear()
        self.calls.clear()
        self.peak_inflight = self.inflight
        return JSONResponse({"reset": True})


def _whm(
    function: str,
    data: Any,
    *,
    result: int = 1,
    reason: str = "OK",
    output: str | None = None,
) -> Response:
    metadata: dict[str, Any] = {
        "command": function,
        "reason": reason,
        "result": result,
        "version": 1,
    }
    if output is not None:
        metadata["output"] = {"raw": output}
    document: dict[str, Any] = {"metadata": metadata}
    if data is not None:
        document["data"] = data
    return Response(json.dumps(document), media_type="application/json")


class SimulatorServer:
    """Serve a ``WhmSimulator`` on a local port from the running event loop
    (tests). ``python -m hospeda.provisioning.simulator`` runs one as a process."""

    def __init__(self, simulator: WhmSimulator, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.simulator = simulator
        self.host = host
        self.port = port
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        config = uvicorn.Config(
            self.simulator.app,
            host=self.host,
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve(), name="whm-simulator")
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self.simulator.stopping.set()
        self._server.should_exit = True
        await self._task
        self._server = None
