"""The request bodies of your producers (`api/routes/producers.py`). Add yours here."""

from __future__ import annotations

from typing import Annotated

from arqkit.web.schemas import MAX_SAFE_INTEGER, StrictBody
from pydantic import EmailStr, Field, StringConstraints

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class SignupIn(StrictBody):
    email: EmailStr
    name: Name


class ReportIn(StrictBody):
    user_id: int = Field(gt=0, le=MAX_SAFE_INTEGER)
    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", examples=["2026-10"], description="YYYY-MM")


class FulfilIn(StrictBody):
    amount_cents: int = Field(gt=0, le=100_000_000)
    currency: str = Field(pattern=r"^[A-Z]{3}$", examples=["EUR"], description="ISO 4217 code")
    email: EmailStr  # where the receipt goes


class ChargeIn(StrictBody):
    amount_cents: int = Field(gt=0, le=100_000_000)
    currency: str = Field(pattern=r"^[A-Z]{3}$", examples=["EUR"], description="ISO 4217 code")
