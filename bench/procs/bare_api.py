"""The baseline for the gateway figures: a bare FastAPI endpoint, served the same way.

python -m uvicorn bench.procs.bare_api:app
"""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()


@app.get("/company")
async def company() -> dict[str, str]:
    return {
        "id": "0190f5e2-7b1c-7c3e-9a51-1f2d3c4b5a02",
        "name": "Padaria Pão Quente",
        "locale": "pt-BR",
    }
