"""Shared helpers for the Maskinporten stand-in tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp

from kjoretoyregister.maskinporten.grants import JWT_BEARER
from kjoretoyregister.maskinporten.testing import RunningMaskinporten

# Synthetic organisation numbers with valid mod-11 check digits.
SUPPLIER = "910000004"
KOMMUNE = "910000012"
OTHER_ORG = "910000020"


@dataclass
class Answer:
    status: int
    body: Any
    content_type: str
    headers: dict[str, str]

    @property
    def code(self) -> str | None:
        """The MP-nnn code in an error description."""
        description = self.body.get("error_description", "") if isinstance(self.body, dict) else ""
        for part in description.replace("(", " ").replace(")", " ").split():
            if part.startswith("MP-"):
                return part
        return None


async def post_grant(http: aiohttp.ClientSession, mp: RunningMaskinporten, grant: str) -> Answer:
    """POST a grant to /token the way Digdir documents it."""
    form = {"grant_type": JWT_BEARER, "assertion": grant}
    async with http.post(mp.token_url, data=form) as resp:
        return Answer(resp.status, await resp.json(), resp.content_type, dict(resp.headers))
