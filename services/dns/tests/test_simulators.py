"""The simulators answer like the real thing (envelope, codes, pagination)."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.query
import dns.rcode
import httpx
from dns_kit import TOKEN, CloudflareSim, DnsWorld

from hospeda.dns.simulator.nameserver import PROVIDER_NS, REGISTRY


async def test_the_cloudflare_simulator_speaks_api_v4(cloudflare: CloudflareSim) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=cloudflare.api_url, timeout=10) as api:
        missing = await api.get("/zones")
        assert missing.status_code == 400
        assert missing.json()["errors"][0]["code"] == 6003
        wrong = await api.get("/zones", headers={"Authorization": "Bearer nope"})
        assert (wrong.status_code, wrong.json()["errors"][0]["code"]) == (403, 9109)
        for i in range(3):
            made = await api.post(
                "/zones",
                headers=auth,
                json={"name": f"z{i}.com.br", "account": {"id": "a"}, "type": "full"},
            )
            assert made.json()["success"] and len(made.json()["result"]["name_servers"]) == 2
        again = await api.post(
            "/zones", headers=auth, json={"name": "z0.com.br", "account": {"id": "a"}}
        )
        assert again.json() == {
            "success": False,
            "errors": [{"code": 1061, "message": "z0.com.br already exists"}],
            "messages": [],
            "result": None,
        }
        page = (await api.get("/zones", headers=auth, params={"per_page": 2, "page": 2})).json()
        assert [z["name"] for z in page["result"]] == ["z2.com.br"]
        assert page["result_info"] == {
            "page": 2,
            "per_page": 2,
            "count": 1,
            "total_count": 3,
            "total_pages": 2,
        }
        unknown = await api.get("/zones/0123456789abcdef0123456789abcdef", headers=auth)
        assert unknown.status_code == 404 and unknown.json()["errors"][0]["code"] == 7003
        zone_id = page["result"][0]["id"]
        bad = await api.post(
            f"/zones/{zone_id}/dns_records",
            headers=auth,
            json={"type": "A", "name": "x", "content": "1.2.3", "ttl": 1},
        )
        assert bad.json()["errors"][0]["code"] == 9005
        ttl = await api.post(
            f"/zones/{zone_id}/dns_records",
            headers=auth,
            json={"type": "A", "name": "x", "content": "1.2.3.4", "ttl": 5},
        )
        assert ttl.json()["errors"][0]["code"] == 1004
    await cloudflare.reset(rate_limit=3, rate_window_s=60)
    async with httpx.AsyncClient(base_url=cloudflare.api_url, timeout=10, headers=auth) as api:
        answers = [await api.get("/zones") for _ in range(5)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    assert answers[3].json()["errors"][0]["code"] == 971
    assert answers[3].headers["retry-after"] == "60"


async def test_the_dns_world_refers_answers_and_refuses_over_udp_and_tcp(world: DnsWorld) -> None:
    await world.delegate("exemplo.com.br", PROVIDER_NS)
    query = dns.message.make_query("exemplo.com.br", "NS")
    query.flags &= ~dns.flags.RD
    referral = dns.query.udp(query, REGISTRY, port=world.port, timeout=2)
    assert not referral.flags & dns.flags.AA
    assert {r.target.to_text() for r in referral.authority[0]} == {
        "ns1.hospeda.test.",
        "ns2.hospeda.test.",
    }
    answer = dns.query.tcp(
        dns.message.make_query("exemplo.com.br", "SOA"), "127.0.53.10", port=world.port, timeout=2
    )
    assert answer.flags & dns.flags.AA and answer.answer[0].rdtype == dns.rdatatype.SOA
    refused = dns.query.udp(
        dns.message.make_query("outro.com.br", "SOA"), "127.0.53.10", port=world.port, timeout=2
    )
    assert refused.rcode() == dns.rcode.REFUSED
    missing = dns.query.udp(
        dns.message.make_query("nada.exemplo.com.br", "A"),
        "127.0.53.10",
        port=world.port,
        timeout=2,
    )
    assert missing.rcode() == dns.rcode.NXDOMAIN and missing.flags & dns.flags.AA
