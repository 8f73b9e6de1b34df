"""Sign-in limits that hold under concurrency, count the second factor on its own,
and cannot be used to lock the owner out (docs/gateway-security.md)."""

from __future__ import annotations

import asyncio
from collections import Counter

from gateway_kit import PASSWORD, Harness, HarnessFactory, expect, read_topic, unique_email

from hospeda.contracts.topics import AUDIT_RECORDS

CONCURRENT = 50


async def _at_once(n: int, send) -> Counter[int]:  # type: ignore[no-untyped-def]
    answers = await asyncio.gather(*(send(i) for i in range(n)))
    return Counter(a.status_code for a in answers)


async def test_wrong_codes_are_not_cleared_by_a_right_password(harness: Harness) -> None:
    owner = await harness.sign_up()
    await harness.enable_2fa(owner)
    attacker = harness.browser()  # knows the password, not the authenticator
    statuses = []
    for _ in range(3):  # 3 × (password, 2 wrong codes): 6 wrong codes against a cap of 5
        expect(
            await attacker.post(
                "/api/v1/auth/login", json={"email": owner.email, "password": PASSWORD}
            ),
            200,
        )
        for _ in range(2):
            wrong = await attacker.post("/api/v1/auth/login/2fa", json={"code": "000000"})
            statuses.append(wrong.status_code)
    assert statuses == [400] * 5 + [429]
    assert owner.totp is not None
    expect(
        await attacker.post(
            "/api/v1/auth/login", json={"email": owner.email, "password": PASSWORD}
        ),
        200,
    )
    right = await attacker.post("/api/v1/auth/login/2fa", json={"code": owner.totp.code()})
    assert right.status_code == 429


async def test_fifty_concurrent_wrong_passwords_get_five_tries(harness: Harness) -> None:
    owner = await harness.sign_up(login=False)
    browsers = [harness.browser() for _ in range(CONCURRENT)]
    counts = await _at_once(
        CONCURRENT,
        lambda i: browsers[i].post(
            "/api/v1/auth/login", json={"email": owner.email, "password": f"chute-{i}"}
        ),
    )
    assert counts == Counter({401: 5, 429: CONCURRENT - 5})


async def test_fifty_concurrent_failures_from_one_address_hold_its_cap(
    make_harness: HarnessFactory,
) -> None:
    harness = await make_harness(login_max_failures_per_ip=30)
    browsers = [harness.browser() for _ in range(CONCURRENT)]
    counts = await _at_once(
        CONCURRENT,
        lambda i: browsers[i].post(
            "/api/v1/auth/login", json={"email": unique_email("alvo"), "password": "x"}
        ),
    )
    assert counts == Counter({401: 30, 429: CONCURRENT - 30})


async def test_fifty_concurrent_wrong_codes_in_one_pending_session_get_five_tries(
    harness: Harness,
) -> None:
    owner = await harness.sign_up()
    await harness.enable_2fa(owner)
    attacker = harness.browser()
    expect(
        await attacker.post(
            "/api/v1/auth/login", json={"email": owner.email, "password": PASSWORD}
        ),
        200,
    )
    counts = await _at_once(
        CONCURRENT,
        lambda i: attacker.post("/api/v1/auth/login/2fa", json={"code": f"{i:06d}"}),
    )
    assert counts == Counter({400: 5, 429: CONCURRENT - 5})


async def test_an_attacker_cannot_lock_the_owner_out(harness: Harness) -> None:
    owner = await harness.sign_up()  # signed in once from this browser: a known device
    attacker = harness.browser()
    answers = [
        await attacker.post(
            "/api/v1/auth/login", json={"email": owner.email, "password": "chute-errado"}
        )
        for _ in range(8)
    ]
    assert [a.status_code for a in answers] == [401] * 5 + [429] * 3
    # the attacker stays stopped, even with the right password ...
    stopped = await attacker.post(
        "/api/v1/auth/login", json={"email": owner.email, "password": PASSWORD}
    )
    assert stopped.status_code == 429
    # ... and with a known-device cookie of someone else's account
    other = await harness.sign_up(login=True)
    attacker.cookies.update({k: v for k, v in other.browser.cookies.items() if "device" in k})
    stolen = await attacker.post(
        "/api/v1/auth/login", json={"email": owner.email, "password": PASSWORD}
    )
    assert stolen.status_code == 429
    # the owner, from the browser they signed in with before, gets in
    expect(await owner.browser.post("/api/v1/auth/logout"), 200)
    assert any("device" in name for name in owner.browser.cookies)
    expect(
        await owner.browser.post(
            "/api/v1/auth/login", json={"email": owner.email, "password": PASSWORD}
        ),
        200,
    )


async def test_the_known_device_has_its_own_cap(harness: Harness) -> None:
    owner = await harness.sign_up()
    expect(await owner.browser.post("/api/v1/auth/logout"), 200)
    answers = [
        await owner.browser.post(
            "/api/v1/auth/login", json={"email": owner.email, "password": "chute-errado"}
        )
        for _ in range(6)
    ]
    assert [a.status_code for a in answers] == [401] * 5 + [429]


async def test_recovery_codes_and_2fa_disable_are_limited_and_audited(harness: Harness) -> None:
    owner = await harness.sign_up()
    await harness.enable_2fa(owner)
    statuses = [
        (
            await owner.browser.post("/api/v1/auth/2fa/recovery-codes", json={"code": "000000"})
        ).status_code
        for _ in range(3)
    ]
    statuses += [
        (
            await owner.browser.post(
                "/api/v1/auth/2fa/disable", json={"password": PASSWORD, "code": "000000"}
            )
        ).status_code
        for _ in range(3)
    ]
    assert statuses == [400] * 5 + [429]
    assert owner.totp is not None
    refused = await owner.browser.post(
        "/api/v1/auth/2fa/disable", json={"password": PASSWORD, "code": owner.totp.code()}
    )
    assert refused.status_code == 429
    records = await read_topic(
        harness.bootstrap,
        AUDIT_RECORDS.name,
        until=lambda seen: (
            sum(m.payload.action == "user.totp_disable_failed" for m in seen) >= 2
            and any(m.payload.action == "user.recovery_codes_failed" for m in seen)
        ),
        what="the failed 2FA changes in the audit trail",
    )
    failed = [m for m in records if m.payload.action == "user.totp_disable_failed"]
    assert {m.payload.entity_id for m in failed} == {str(owner.user_id)}
