"""The internal API's gate: a caller presents the action server's token or an internal-scope API key."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from civicdesk.deps import get_settings_dep
from civicdesk.settings import Settings
from civicdesk.staff.api_clients import verify_key

bearer = HTTPBearer(auto_error=False)


def require_service_token(
    request: Request,
    settings: Annotated[Settings, Depends(get_settings_dep)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
    """A caller of the internal API presents the action server's token (a deployment secret, from the
    environment) or an internal-scope API key issued by `civicdesk clients create` (stored only as a hash)."""
    given = credentials.credentials if credentials else ""
    if given and hmac.compare_digest(given.encode(), settings.actions_token.get_secret_value().encode()):
        return
    with request.app.state.session_factory() as session:
        if given and verify_key(session, given, "internal") is not None:
            return
    raise HTTPException(
        status.HTTP_401_UNAUTHORIZED, "a valid service token is required", {"WWW-Authenticate": "Bearer"}
    )


ServiceAuth = Depends(require_service_token)
