"""``Idempotency-Key`` on POSTs, kept in Redis.

The first request with a key runs and its answer is stored (24 h by
default); a retry with the same key and the same request gets the stored
answer again (header ``Idempotent-Replayed: true``) instead of acting twice.
The same key with a different request is refused (422); while the first is
still running, a retry is told to wait (409). Failed requests (4xx/5xx) are
not stored, so they can be retried. Keys are per caller and company: a person
(in the company they act on), an API token or, before signing in, an IP address.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass

import redis.asyncio as redis
from fastapi import Request, Response

from hospeda.gateway.problems import ApiError

PREFIX = "hospeda:idempotency:"
HEADER = "Idempotency-Key"
PENDING_TTL_S = 60
REPLAYED_HEADERS = ("content-type", "location", "content-language")


class Replay(Exception):
    """Not an error: the stored answer of an earlier request with the same key."""

    def __init__(self, response: Response) -> None:
        super().__init__("replay")
        self.response = response


@dataclass(frozen=True)
class Claim:
    key: str
    fingerprint: str


class Idempotency:
    def __init__(self, client: redis.Redis, *, ttl_s: int) -> None:
        self.redis = client
        self.ttl = ttl_s

    async def begin(self, request: Request, caller: str) -> Claim | None:
        """Claim the request's key, or raise ``Replay`` / a problem."""
        raw_key = request.headers.get(HEADER)
        if raw_key is None or request.method != "POST":
            return None
        if not (1 <= len(raw_key) <= 255 and raw_key.isprintable() and raw_key.strip()):
            raise ApiError("idempotency_key_invalid", 400)
        body = await request.body()
        fingerprint = hashlib.sha256(
            b"\n".join(
                [
                    request.method.encode(),
                    request.url.path.encode(),
                    request.url.query.encode(),
                    body,
                ]
            )
        ).hexdigest()
        key = PREFIX + hashlib.sha256(f"{caller}\n{raw_key}".encode()).hexdigest()
        pending = json.dumps({"state": "pending", "fingerprint": fingerprint})
        if await self.redis.set(key, pending, nx=True, ex=PENDING_TTL_S):
            return Claim(key, fingerprint)
        stored_raw = await self.redis.get(key)
        if stored_raw is None:  # expired between the two calls: let the client retry
            raise ApiError("idempotency_in_progress", 409)
        stored = json.loads(stored_raw)
        if stored["fingerprint"] != fingerprint:
            raise ApiError("idempotency_key_reused", 422)
        if stored["state"] == "pending":
            raise ApiError("idempotency_in_progress", 409, headers={"Retry-After": "1"})
        response = Response(
            content=base64.b64decode(stored["body"]),
            status_code=stored["status"],
            headers={**stored["headers"], "Idempotent-Replayed": "true"},
        )
        raise Replay(response)

    async def finish(self, claim: Claim, response: Response) -> None:
        """Keep a successful answer for replays; forget a failed one."""
        body = getattr(response, "body", None)
        if not (200 <= response.status_code < 300) or body is None:
            await self.abort(claim)
            return
        headers = {k: v for k, v in response.headers.items() if k in REPLAYED_HEADERS}
        record = {
            "state": "done",
            "fingerprint": claim.fingerprint,
            "status": response.status_code,
            "headers": headers,
            "body": base64.b64encode(bytes(body)).decode(),
        }
        await self.redis.set(claim.key, json.dumps(record), ex=self.ttl)

    async def abort(self, claim: Claim) -> None:
        await self.redis.delete(claim.key)
