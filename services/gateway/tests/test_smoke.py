from gateway_kit import Harness, expect


async def test_sign_up_and_see_myself(harness: Harness) -> None:
    owner = await harness.sign_up()
    me = expect(await owner.browser.get("/api/v1/me"), 200)
    assert me["role"] == "owner"
