"""Request and response bodies of the public API."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Path
from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

JOB_ID_PATTERN = r"^[A-Za-z0-9:._-]{1,128}$"
JobId = Annotated[str, Path(pattern=JOB_ID_PATTERN, description="A job id as returned by a producer.")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SignupIn(_Strict):
    email: EmailStr
    name: Name


class ReportIn(_Strict):
    user_id: int = Field(gt=0)
    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", examples=["2026-10"], description="YYYY-MM")


class ChargeIn(_Strict):
    amount_cents: int = Field(gt=0, le=100_000_000)
    currency: str = Field(pattern=r"^[A-Z]{3}$", examples=["EUR"], description="ISO 4217 code")


class Accepted(BaseModel):
    job_id: str
    status: Literal["queued", "deferred"]
    status_url: str


class ReplayAccepted(Accepted):
    replay_of: str


class AbortRequested(BaseModel):
    job_id: str
    status: Literal["abort_requested"] = "abort_requested"


class ReplayWindow(_Strict):
    since_seconds: int = Field(gt=0, le=90 * 86_400)


class Replayed(BaseModel):
    count: int
    job_ids: list[str]
