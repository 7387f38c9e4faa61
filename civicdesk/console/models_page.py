"""The triage models page for trainers and administrators: versions with their test scores, retraining, promotion
and rollback, and the download of chat messages the assistant did not understand (Rasa NLU YAML, redacted).

A retrain runs in a background thread of this process, so the request returns at once; the page shows whether
one is running (the registry's retrain lock, which the command line's `classifiers retrain` takes too) and what
the last one decided. Making a version active is the same for a promotion and a rollback; both are audited.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Depends, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session, sessionmaker

from civicdesk.console.deps import Staff, require
from civicdesk.console.templating import SECURITY_HEADERS, local_time, render
from civicdesk.db import transaction
from civicdesk.limits import LIMITS
from civicdesk.settings import Settings
from civicdesk.staff import audit
from civicdesk.triage import chat_nlu, retraining
from civicdesk.triage.training import triage_model_dir
from classifiers.errors import ModelError
from classifiers.metrics import CURVE_THRESHOLDS
from classifiers.registry import (
    MAX_MACRO_F1_DROP,
    MIN_EMERGENCY_RECALL,
    MIN_PAGING_PRECISION,
    Registry,
    RegistryBusy,
    Version,
)

log = logging.getLogger(__name__)
router = APIRouter(prefix="/console")
ModelStaff = Annotated[Staff, Depends(require("models"))]
RECORD_TYPE = "triage_model"


def _when(iso: str | None) -> str:
    """A time the registry wrote (ISO 8601, UTC) as staff read times: in the Region's time zone."""
    try:
        return local_time(datetime.fromisoformat(iso)) if iso else ""
    except ValueError:
        return iso or ""


def operating_point(version: Version | None) -> dict[str, Any] | None:
    """What the active version answers automatically: each head's threshold, what it gave on held-out training
    rows, and the coverage/accuracy curve there (what a centre picks its target accuracy from)."""
    if version is None or "target_accuracy" not in version.meta:
        return None
    meta, heads = version.meta, version.meta.get("heads", [])
    held_out = meta.get("metrics", {})
    curves = {head: {p["threshold"]: p for p in held_out.get(head, {}).get("coverage_curve", [])} for head in heads}
    return {
        "target": meta["target_accuracy"],
        "heads": heads,
        "thresholds": meta.get("thresholds", {}),
        "held_out": held_out,
        "rows": [(t, [curves[head].get(t) for head in heads]) for t in CURVE_THRESHOLDS],
        "urgency": meta.get("urgency_thresholds") or {},
    }


def _page_context(settings: Settings) -> dict[str, Any]:
    registry = Registry(triage_model_dir(settings))
    versions = registry.versions()
    active_id = registry.active_id()
    active = next((version for version in versions if version.id == active_id), None)
    return {
        "versions": list(reversed(versions)),  # newest first
        "active": registry.active_record(),
        "active_id": registry.active_id(),
        "running": registry.training_now(),
        "last": retraining.read_status(registry.root),
        "when": _when,
        "max_drop": MAX_MACRO_F1_DROP,
        "min_recall": MIN_EMERGENCY_RECALL,
        "min_paging_precision": MIN_PAGING_PRECISION,
        "operating_point": operating_point(active),
    }


async def _page(request: Request, staff: Staff, notice: str = "", error: str = "", code: int = 200) -> Response:
    context = await to_thread.run_sync(_page_context, request.app.state.settings)
    return render(
        request,
        "console/models.html",
        {"staff": staff, "notice": notice, "error": error, **context},
        status_code=code,
    )


@router.get("/models", response_class=HTMLResponse)
async def models_page(request: Request, staff: ModelStaff, started: int = 0) -> Response:
    notice = "Retraining started. Reload this page to see when it has finished." if started else ""
    return await _page(request, staff, notice=notice)


def _retrain_in_background(settings: Settings, factory: sessionmaker[Session], actor: str) -> None:
    try:
        outcome = retraining.retrain(settings, factory, actor=actor)
    except RegistryBusy as error:  # another training holds the lock
        log.warning("retrain not started: %s", error)
        return
    except Exception:  # recorded in the status file the page shows; the web process carries on
        log.exception("retrain failed")
        return
    if outcome.promoted:
        with transaction(factory) as session:
            audit.record(
                session,
                actor,
                "triage.promote",
                RECORD_TYPE,
                outcome.version,
                {"previous": outcome.active_before, "automatic": True, "reasons": list(outcome.reasons)},
            )


@router.post("/models/retrain")
async def start_retrain(request: Request, staff: ModelStaff) -> Response:
    settings: Settings = request.app.state.settings
    factory = request.app.state.session_factory
    if Registry(triage_model_dir(settings)).training_now():
        return await _page(request, staff, error="A triage model is being trained; wait for it to finish.", code=409)

    def record_start() -> None:
        with transaction(factory) as session:
            audit.record(session, staff.email, "triage.retrain", RECORD_TYPE, "retrain")

    await to_thread.run_sync(record_start)
    thread = threading.Thread(
        target=_retrain_in_background, args=(settings, factory, staff.email), name="triage-retrain", daemon=True
    )
    thread.start()
    return RedirectResponse("/console/models?started=1", status.HTTP_303_SEE_OTHER)


@router.post("/models/activate")
async def activate(
    request: Request,
    staff: ModelStaff,
    version: Annotated[str, Form(max_length=LIMITS["short"])],
) -> Response:
    """Make a version active: a promotion of a newer one or a rollback to an older one."""
    factory = request.app.state.session_factory
    registry = Registry(triage_model_dir(request.app.state.settings))

    def run() -> str:
        with transaction(factory) as session:
            previous = registry.active_id()
            if previous == version:
                return f"Version {version} is already active."
            action = "triage.promote" if previous is None or version > previous else "triage.rollback"
            registry.get(version)  # an unknown version is refused before anything is recorded
            audit.record(session, staff.email, action, RECORD_TYPE, version, {"previous": previous})
            registry.activate(version, by=staff.email)  # last: if it fails, the audit entry rolls back
            return f"Version {version} is now active (was {previous or 'none'})."

    try:
        notice = await to_thread.run_sync(run)
    except ModelError as error:
        return await _page(request, staff, error=str(error), code=422)
    return await _page(request, staff, notice=notice)


@router.get("/models/chat-nlu.yml")
async def chat_nlu_download(request: Request, staff: ModelStaff) -> Response:
    """The chat messages the assistant did not understand, as Rasa NLU YAML to review (contact details redacted)."""
    factory = request.app.state.session_factory

    def build() -> str:
        with transaction(factory) as session:
            by_intent = chat_nlu.failed_examples(session)
            audit.record(
                session,
                staff.email,
                "chat_nlu.export",
                "chat_message",
                "not_understood",
                {"examples": sum(len(examples) for examples in by_intent.values())},
            )
            return chat_nlu.to_rasa_yaml(by_intent)

    body = await to_thread.run_sync(build)
    headers = {
        **SECURITY_HEADERS,
        "Cache-Control": "no-store",
        "Content-Disposition": 'attachment; filename="chat-not-understood.yml"',
    }
    return Response(body, media_type="application/yaml; charset=utf-8", headers=headers)
