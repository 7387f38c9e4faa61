"""Client for the civicdesk core HTTP API.

Configuration comes from the environment so the same code runs in development, tests and production:

- ``CIVICDESK_CORE_URL``: base URL of the core web app (default ``http://127.0.0.1:8000``).
- ``CIVICDESK_ACTIONS_TOKEN``: service token, sent as ``Authorization: Bearer <token>``.
- ``CIVICDESK_CORE_TIMEOUT``: seconds before a request is abandoned (default 5). A resident is
  waiting on the other end, and Rasa itself gives up on the action server after a while.

Every failure (unreachable, timeout, HTTP error status, malformed body) is raised as
``CoreAPIError`` so callers have exactly one thing to catch.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

logger = logging.getLogger(__name__)

DEFAULT_CORE_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT_SECONDS = 5.0
KB_SEARCH_PATH = "/api/v1/kb/search"


class CoreAPIError(Exception):
    """The core API could not be reached, or answered with an error or an unexpected body."""


@dataclass(frozen=True)
class CoreSettings:
    base_url: str
    token: str
    timeout_seconds: float

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> CoreSettings:
        env = os.environ if environ is None else environ
        raw_timeout = env.get("CIVICDESK_CORE_TIMEOUT", "")
        try:
            timeout = float(raw_timeout) if raw_timeout else DEFAULT_TIMEOUT_SECONDS
        except ValueError:
            raise CoreAPIError(f"CIVICDESK_CORE_TIMEOUT is not a number: {raw_timeout!r}") from None
        if timeout <= 0:
            raise CoreAPIError(f"CIVICDESK_CORE_TIMEOUT must be positive, got {timeout}")
        return cls(
            base_url=env.get("CIVICDESK_CORE_URL", "").strip() or DEFAULT_CORE_URL,
            token=env.get("CIVICDESK_ACTIONS_TOKEN", "").strip(),
            timeout_seconds=timeout,
        )


@dataclass(frozen=True)
class KBArticle:
    slug: str
    title: str
    summary: str
    url: str
    score: float


@dataclass(frozen=True)
class KBSearchResult:
    query: str
    confident: bool
    results: tuple[KBArticle, ...]


class CoreClient:
    def __init__(self, settings: CoreSettings) -> None:
        self._settings = settings
        if not settings.token:
            # Not fatal here (the core may allow it in development), but every call will most
            # likely be refused, so say why once.
            logger.warning("CIVICDESK_ACTIONS_TOKEN is not set; calls to the core API are unauthenticated")

    @classmethod
    def from_env(cls) -> CoreClient:
        return cls(CoreSettings.from_env())

    async def search_knowledgebase(self, query: str, *, channel: str = "chat", limit: int = 3) -> KBSearchResult:
        body = await self._get_json(KB_SEARCH_PATH, {"q": query, "channel": channel, "limit": str(limit)})
        return _parse_search(body)

    async def _get_json(self, path: str, params: Mapping[str, str]) -> Any:
        url = self._settings.base_url.rstrip("/") + path
        headers = {"Accept": "application/json"}
        if self._settings.token:
            headers["Authorization"] = f"Bearer {self._settings.token}"
        timeout = aiohttp.ClientTimeout(total=self._settings.timeout_seconds)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(url, params=params, headers=headers) as response,
            ):
                if response.status != 200:
                    raise CoreAPIError(f"GET {path} answered HTTP {response.status}")
                return await response.json(content_type=None)
        # On Python 3.10 (the engine env) asyncio.TimeoutError is not yet the builtin TimeoutError.
        except asyncio.TimeoutError as exc:  # noqa: UP041
            raise CoreAPIError(f"GET {path} timed out after {self._settings.timeout_seconds} s") from exc
        except aiohttp.ClientError as exc:
            raise CoreAPIError(f"GET {path} failed: {exc}") from exc
        except ValueError as exc:  # body is not JSON
            raise CoreAPIError(f"GET {path} returned a body that is not JSON") from exc


def _parse_search(body: Any) -> KBSearchResult:
    """Check the body against the contract; anything else is the core's error, not the resident's."""
    try:
        results = tuple(
            KBArticle(
                slug=_str(item["slug"]),
                title=_str(item["title"]),
                summary=_str(item["summary"]),
                url=_str(item["url"]),
                score=float(item["score"]),
            )
            for item in body["results"]
        )
        confident = body["confident"]
        if not isinstance(confident, bool):
            raise TypeError("confident is not a boolean")
        return KBSearchResult(query=_str(body["query"]), confident=confident, results=results)
    except (KeyError, TypeError, ValueError) as exc:
        raise CoreAPIError(f"knowledgebase search returned an unexpected body: {exc!r}") from exc


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value
