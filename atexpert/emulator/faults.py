"""Injected faults: latency, 5xx, forced 429s, timeouts after a post was applied."""

from __future__ import annotations

import asyncio
import random

from pydantic import BaseModel, ConfigDict, Field


class Faults(BaseModel):
    """The fault plan; ``POST /_emulator/faults`` replaces fields it names."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    latency_ms: int = Field(default=0, ge=0, le=60_000)
    error_rate: float = Field(default=0.0, ge=0.0, le=1.0, description="share of 503s")
    fail_next: int = Field(default=0, ge=0, description="the next N requests get 503")
    force_429: int = Field(default=0, ge=0, description="the next N requests get 429")
    reset_in: int = Field(default=2, ge=0, le=86_400, description="seconds to a forced reset")
    timeout_after_apply: int = Field(
        default=0, ge=0, description="the next N POST /2/tweets are applied, then dropped"
    )
    stall_seconds: float = Field(
        default=0.0, ge=0.0, le=600.0, description="how long a dropped response stalls first"
    )
    endpoints: list[str] | None = Field(
        default=None, description="limit latency/5xx/429 faults to these endpoint names"
    )

    def applies(self, endpoint: str) -> bool:
        return self.endpoints is None or endpoint in self.endpoints

    async def delay(self, endpoint: str) -> None:
        if self.latency_ms and self.applies(endpoint):
            await asyncio.sleep(self.latency_ms / 1000)

    def take_5xx(self, endpoint: str) -> bool:
        if not self.applies(endpoint):
            return False
        if self.fail_next:
            self.fail_next -= 1
            return True
        return bool(self.error_rate) and random.random() < self.error_rate

    def take_429(self, endpoint: str) -> bool:
        if self.force_429 and self.applies(endpoint):
            self.force_429 -= 1
            return True
        return False

    def take_timeout(self) -> bool:
        if self.timeout_after_apply:
            self.timeout_after_apply -= 1
            return True
        return False
