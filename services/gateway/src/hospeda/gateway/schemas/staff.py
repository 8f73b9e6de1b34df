"""Staff: acting on a company, staff roles."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, Field, StringConstraints

from hospeda.gateway.permissions import StaffRole
from hospeda.gateway.schemas.common import EXAMPLE_COMPANY, NO_CONTROLS, example


class ActOnCompany(BaseModel):
    model_config = example(company_id=EXAMPLE_COMPANY, reason="Chamado #4512: fatura em dobro")

    company_id: UUID
    reason: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=3, max_length=500, pattern=NO_CONTROLS),
    ]


class StaffRoleChange(BaseModel):
    model_config = example(role="operator")

    role: StaffRole | None = Field(description="None removes the person from staff.")
