"""A client for the simulator's control endpoint (tests, benchmarks, people)."""

from __future__ import annotations

from typing import Any

import httpx


class SimulatorControl:
    """Inject faults into, and read the state of, a running WHM simulator."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    async def _request(self, method: str, path: str, body: Any = None) -> Any:
        async with httpx.AsyncClient(base_url=self.url, timeout=10) as http:
            response = await http.request(method, f"/__sim/{path}", json=body)
            response.raise_for_status()
            return response.json()

    async def state(self) -> dict[str, Any]:
        return dict(await self._request("GET", "state"))

    async def fault(
        self,
        function: str,
        kind: str,
        *,
        times: int = 1,
        delay: float = 30.0,
        status: int = 500,
        reason: str = "Simulated failure",
        after: bool = False,
    ) -> None:
        """Make the next ``times`` calls of ``function`` fail (see ``Fault``)."""
        await self._request(
            "POST",
            "faults",
            {
                "function": function,
                "kind": kind,
                "times": times,
                "delay": delay,
                "status": status,
                "reason": reason,
                "after": after,
            },
        )

    async def clear_faults(self) -> None:
        await self._request("DELETE", "faults")

    async def latency(self, seconds: float) -> None:
        await self._request("POST", "latency", {"seconds": seconds})

    async def dcv(self, domain: str, *, failing: bool) -> None:
        await self._request("POST", "dcv", {"domain": domain, "failing": failing})

    async def reset(self) -> None:
        await self._request("POST", "reset")

    async def accounts(self) -> dict[str, dict[str, Any]]:
        return dict((await self.state())["accounts"])

    async def calls(self) -> dict[str, int]:
        return dict((await self.state())["calls"])
