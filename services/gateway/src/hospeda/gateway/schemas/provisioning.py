"""Provisioning: hosting services and their jobs (operators retry or cancel one)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from hospeda.gateway.schemas.common import Page, Text, example


class ServiceActionIn(BaseModel):
    model_config = example(reason="Chamado #4512: malware no site")

    reason: Text = Field(min_length=1, max_length=500)


class JobCancelIn(BaseModel):
    model_config = example(reason="Domínio errado")

    reason: Text | None = Field(default=None, max_length=500)


# --- answers of provisioning's queries ---------------------------------------------------
# Passed on as provisioning gives them; typed by the runtime's query layer (issue 10),
# as in schemas.billing.
Services = Page[Any]  # services.list
Service = dict[str, Any]  # services.get
Jobs = Page[Any]  # jobs.list (also staff's platform-wide /staff/jobs)
Job = dict[str, Any]  # jobs.get
