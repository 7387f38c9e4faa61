"""Email cases in the agent console: the work queue, a case's page, and the agent's actions on it.

Messages reach the database the way they do in production: dropped into a Maildir and ingested with the triage
model trained for the session (conftest `models_dir`), so the cases carry the pipeline's real reasons, labels and
details. The browser check of a hostile HTML email is in test_browser_console.py.
"""

# ruff: noqa: F811 (the tests take fixtures imported from test_console by name)

from __future__ import annotations

import datetime as dt
import mailbox
import re
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from helpers import HOSTILE_HTML, letter, race
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from test_console import (  # noqa: F401 (fixtures)
    PASSWORD,
    SQLITE_ONLY,
    app,
    app_settings,
    browser,
    database_url,
    rasa,
    signed_in,
    staff,
)

from civicdesk.chat import service as chat
from civicdesk.db import transaction, utcnow
from civicdesk.mail import cases as email_cases
from civicdesk.mail import replies
from civicdesk.models import AuditEntry, InboundEmail, OutboundMessage, ServiceRequest, TriageCorrection
from civicdesk.staff import auth
from civicdesk.work.service_levels import email_reply_promise
from civicdesk.work.sources import POSSIBLE_EMERGENCY_FLAG
from classifiers.model import TriageModel, load_model
from email_ingest.maildir import MaildirSource
from email_ingest.runner import ingest_once

CAP = 1_000_000
POSTGRES_ONLY = pytest.mark.parametrize("seeded_template", ["postgresql"], indirect=True)
GAS = ("Gas smell on Birch Crescent", "There is a strong smell of natural gas outside 14 Birch Crescent, Port Sable.")
THANKS = (
    "Thank you",
    "I just wanted to say thank you to the crew who fixed the streetlight on Mill Street last week. Great job!",
)
QUESTION = ("Question", "Hello, what are your office hours on Saturday?")
# A complaint (an agent answers it) about a clear service request, with every detail the case page shows.
SIDEWALK = (
    "Sidewalk trip hazard",
    "I reported the lifted sidewalk slab in front of 88 Queen Street, Elm Ridge L4N 2K7 three times and nothing "
    "has been done. My neighbour tripped on it. This is unacceptable. Call me at 905-555-0143.",
)
# No emergency phrase; the session's model puts it between the possible-emergency and paging thresholds.
WATER = (
    "Water in the road",
    "There is a lot of water coming up through a crack in the road at 12 Pinecrest Lane, it started an hour ago.",
)
MISSED = (
    "Missed garbage pickup",
    "Hello,\n\nOur garbage was not picked up on Tuesday at 14 Birch Crescent, Pinecrest. The bags were out by "
    "7 a.m. as usual. Please come back for it.\n\nThanks,\nPriya Raman\n905-555-0134",
)


@pytest.fixture(scope="module")
def triage(models_dir: Path) -> TriageModel:
    return load_model(models_dir / "triage")


def ingest(
    tmp_path: Path, factory: sessionmaker[Session], triage: TriageModel | None, *messages: bytes
) -> dict[str, InboundEmail]:
    """Drop the messages into a Maildir, run the ingester once, and return the stored rows by Message-ID."""
    inbox = tmp_path / "inbox"
    inbox.parent.mkdir(parents=True, exist_ok=True)
    box = mailbox.Maildir(inbox, create=True)
    for raw in messages:
        box.add(raw)
    ingest_once(MaildirSource(inbox), factory, CAP, triage=triage)
    with factory() as session:
        rows = session.scalars(select(InboundEmail)).all()
        session.expunge_all()
    return {row.message_id or f"#{row.id}": row for row in rows}


def arrived(factory: sessionmaker[Session], minutes_ago: dict[int, int]) -> None:
    """Set when messages arrived, so waiting times differ as they would over a morning."""
    with transaction(factory) as session:
        for email_id, minutes in minutes_ago.items():
            row = session.get(InboundEmail, email_id)
            assert row is not None
            row.received_at = utcnow() - dt.timedelta(minutes=minutes)


def fetch_headers(csrf: str) -> dict[str, str]:
    return {"accept": "application/json", "x-csrf-token": csrf}


# ---- the queue ---------------------------------------------------------------------------------------------


@pytest.mark.timeout(300)
def test_email_cases_join_chats_in_the_queue_most_urgent_then_longest_waiting(
    app: Any,
    staff: dict[str, str],
    session_factory: sessionmaker[Session],
    triage: TriageModel,
    tmp_path: Path,
) -> None:
    rows = ingest(
        tmp_path,
        session_factory,
        triage,
        letter(*GAS, "<gas@x.org>"),
        letter(*THANKS, "<thanks@x.org>", sender="Mei Chen <mei.chen@example.org>"),
        letter(*QUESTION, "<question@x.org>"),
        letter(*MISSED, "<missed@x.org>"),
        b"\x00\x81\xfe junk that is not an email \xff" * 3,
    )
    gas, thanks, question, missed = (rows[f"<{n}@x.org>"] for n in ("gas", "thanks", "question", "missed"))
    junk = next(row for key, row in rows.items() if key.startswith("#"))
    assert (gas.status, gas.urgency) == ("needs_human", "emergency")
    assert thanks.status == question.status == "needs_human" and thanks.urgency == question.urgency == "routine"
    assert missed.status == "routed" and junk.status == "quarantined"
    with transaction(session_factory) as session:
        conversation = chat.start(session)
        chat.to_queue(session, conversation, "resident_request", "Water bill question", "urgent")
        conversation.waiting_since = utcnow() - dt.timedelta(minutes=20)
        chat_key = str(conversation.id)
    arrived(session_factory, {gas.id: 1, thanks.id: 45, question.id: 90, junk.id: 5, missed.id: 120})

    client, csrf = signed_in(app, staff["agent"])
    items = client.get("/console/api/queue").json()["items"]
    assert [(i["kind"], i["key"], i["urgency"]) for i in items] == [
        ("email", str(gas.id), "emergency"),
        ("chat", chat_key, "urgent"),
        ("email", str(junk.id), "urgent"),  # unread by any model: someone looks at it today
        ("email", str(question.id), "routine"),
        ("email", str(thanks.id), "routine"),
    ]
    first = items[0]
    assert first["title"] == GAS[0] and first["who"] == "Priya Raman <priya.raman@example.org>"
    assert first["reason"].startswith("Emergency") and first["url"] == f"/console/email/{gas.id}"
    assert items[4]["reason"] == "Compliment: an agent answers it"
    assert items[2]["reason"].startswith("Cannot be read")
    page = client.get("/console/queue").text
    assert "From Mei Chen &lt;mei.chen@example.org&gt;" in page and "Compliment: an agent answers it" in page
    assert f"/console/email/{missed.id}" not in page  # routed by the pipeline: not a case
    not_a_case = client.post(f"/console/email/{missed.id}/handled", data={"csrf_token": csrf})
    assert not_a_case.status_code == 409 and "this email was routed by the pipeline" in not_a_case.text


@SQLITE_ONLY
def test_a_possible_emergency_shows_its_banner_in_the_queue_and_on_its_page(
    app: Any,
    staff: dict[str, str],
    session_factory: sessionmaker[Session],
    triage: TriageModel,
    tmp_path: Path,
) -> None:
    rows = ingest(tmp_path, session_factory, triage, letter(*QUESTION, "<question@x.org>"), letter(*WATER, "<w@x.org>"))
    water, question = rows["<w@x.org>"], rows["<question@x.org>"]
    assert (water.triage or {}).get("emergency_tier") == "possible" and not (water.triage or {}).get("emergencies")
    arrived(session_factory, {question.id: 60, water.id: 1})

    client, _ = signed_in(app, staff["agent"])
    first, second = client.get("/console/api/queue").json()["items"]
    assert (first["key"], first["urgency"], first["flag"]) == (str(water.id), "emergency", POSSIBLE_EMERGENCY_FLAG)
    assert second["flag"] == ""
    assert f'<span class="badge flag-emergency">{POSSIBLE_EMERGENCY_FLAG}</span>' in client.get("/console/queue").text
    page = client.get(f"/console/email/{water.id}").text
    assert 'id="possible-emergency"' in page and "Nobody has been paged" in page
    assert 'id="possible-emergency"' not in client.get(f"/console/email/{question.id}").text


# ---- who may ----------------------------------------------------------------------------------------------

CASE_ACTIONS = ("labels", "request", "attach", "handled")


@SQLITE_ONLY
def test_email_cases_refuse_anonymous_visitors_wrong_roles_and_forged_posts(
    app: Any,
    staff: dict[str, str],
    session_factory: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    rows = ingest(tmp_path, session_factory, None, letter(*QUESTION, "<question@x.org>"))
    case = rows["<question@x.org>"]
    assert case.status == "needs_human" and case.status_reason == "no triage model is installed"
    page, posts = f"/console/email/{case.id}", [f"/console/email/{case.id}/{action}" for action in CASE_ACTIONS]

    anonymous = browser(app)
    assert anonymous.get(page, headers={"accept": "text/html"}, follow_redirects=False).status_code == 303
    assert anonymous.get("/console/api/queue").status_code == 401
    for path in posts:
        assert anonymous.post(path, data={"reference": "SR-2026-000001"}).status_code == 401, path

    trainer, csrf = signed_in(app, staff["trainer"])
    assert trainer.get(page).status_code == 403
    for path in posts:
        assert trainer.post(path, data={"csrf_token": csrf}).status_code == 403, path

    agent, csrf = signed_in(app, staff["agent"])
    assert agent.get(page).status_code == 200
    for path in posts:
        assert agent.post(path, data={"decision": "confirm"}).status_code == 403, path  # no CSRF token
        assert agent.post(path, headers={"x-csrf-token": "forged"}).status_code == 403, path
    with session_factory() as session:
        assert session.scalars(select(TriageCorrection)).all() == []
        entries = session.scalars(select(AuditEntry).where(AuditEntry.record_type == "inbound_email")).all()
        assert [entry.action for entry in entries] == ["email.view"]  # the agent's look, and no refused action
        still = session.get(InboundEmail, case.id)
        assert still is not None and still.handled_at is None and still.service_request_id is None
    unlabelled = agent.post(f"/console/email/{case.id}/labels", data={"csrf_token": csrf, "decision": "confirm"})
    assert unlabelled.status_code == 409 and "there is no prediction to confirm" in unlabelled.text
    assert agent.get("/console/email/999999").status_code == 404


# ---- labels for retraining ---------------------------------------------------------------------------------


@pytest.mark.timeout(300)
def test_confirming_and_correcting_labels_store_training_examples_and_audit_entries(
    app: Any,
    staff: dict[str, str],
    session_factory: sessionmaker[Session],
    triage: TriageModel,
    tmp_path: Path,
) -> None:
    rows = ingest(
        tmp_path,
        session_factory,
        triage,
        letter(*THANKS, "<thanks@x.org>"),
        letter(*SIDEWALK, "<sidewalk@x.org>", sender="Omar Haddad <omar.haddad@example.org>"),
    )
    thanks, sidewalk = rows["<thanks@x.org>"], rows["<sidewalk@x.org>"]
    assert thanks.status == sidewalk.status == "needs_human"
    client, csrf = signed_in(app, staff["agent"])

    page = client.get(f"/console/email/{sidewalk.id}").text
    for shown in ("Sidewalk or curb damage", "88 Queen Street", "L4N 2K7", "905-555-0143", "Omar Haddad"):
        assert shown in page, shown
    assert re.search(r"<td>\d+%</td>", page)  # confidences are shown

    confirmed = client.post(f"/console/email/{thanks.id}/labels", data={"csrf_token": csrf, "decision": "confirm"})
    assert confirmed.status_code == 200  # back on the case page
    assert sidewalk.triage is not None and sidewalk.triage["heads"]["kind"]["label"] == "complaint"
    said = sidewalk.triage["heads"]["urgency"]["label"]  # urgent or routine: a slab someone tripped on
    fixed = "routine" if said == "urgent" else "urgent"
    corrected = client.post(
        f"/console/email/{sidewalk.id}/labels",
        data={
            "csrf_token": csrf,
            "decision": "correct",
            "service_code": "sidewalk_repair",
            "kind": "service_request",
            "urgency": fixed,
        },
    )
    assert corrected.status_code == 200
    wrong = client.post(
        f"/console/email/{sidewalk.id}/labels",
        data={"csrf_token": csrf, "service_code": "moon_repair", "kind": "complaint", "urgency": "urgent"},
    )
    assert wrong.status_code == 422 and "&#39;moon_repair&#39; is not a service in the catalogue" in wrong.text

    with session_factory() as session:
        examples = session.scalars(select(TriageCorrection).order_by(TriageCorrection.id)).all()
        assert len(examples) == 2
        kept, changed = examples
        predicted = email_cases.predicted_labels(session.get(InboundEmail, thanks.id))  # type: ignore[arg-type]
        assert (kept.service_code, kept.kind, kept.urgency) == (
            predicted.service_code,
            predicted.kind,
            predicted.urgency,
        )
        assert kept.kind == "compliment" and kept.subject == THANKS[0] and kept.body == THANKS[1]
        assert kept.corrected_by == staff["agent"] and kept.inbound_email_id == thanks.id
        assert set(kept.predicted) == {"service_code", "kind", "urgency"}
        assert 0 < kept.predicted["kind"]["confidence"] <= 1
        assert (changed.service_code, changed.kind, changed.urgency) == ("sidewalk_repair", "service_request", fixed)
        assert changed.predicted["urgency"]["label"] == said  # what the model said stays recorded
        audit = session.scalars(
            select(AuditEntry).where(AuditEntry.record_type == "inbound_email").order_by(AuditEntry.id)
        ).all()
        audit = [a for a in audit if not a.action.endswith(".view")]  # page views are audited too
        assert [(a.action, a.record_id, a.actor) for a in audit] == [
            ("email.confirm", str(thanks.id), staff["agent"]),
            ("email.correct", str(sidewalk.id), staff["agent"]),
        ]
        assert audit[0].detail["changed"] == {}
        assert audit[1].detail["changed"] == {"kind": ["complaint", "service_request"], "urgency": [said, fixed]}
    urgencies = {i["key"]: i["urgency"] for i in client.get("/console/api/queue").json()["items"]}
    assert urgencies[str(sidewalk.id)] == fixed  # the agent's urgency places the case in the queue


# ---- service requests and closing the case -----------------------------------------------------------------


@pytest.mark.timeout(300)
def test_a_case_becomes_a_request_a_reply_joins_it_and_handled_cases_leave_the_queue(
    app: Any,
    staff: dict[str, str],
    session_factory: sessionmaker[Session],
    triage: TriageModel,
    tmp_path: Path,
) -> None:
    photo = ("slab.jpg", b"\xff\xd8\xff\xe0 a photo of a lifted slab")
    rows = ingest(
        tmp_path,
        session_factory,
        triage,
        letter(*SIDEWALK, "<sidewalk@x.org>", sender="Omar Haddad <omar.haddad@example.org>", attachment=photo),
    )
    case = rows["<sidewalk@x.org>"]
    client, csrf = signed_in(app, staff["agent"])
    page = client.get(f"/console/email/{case.id}").text
    assert "slab.jpg" in page and "image/jpeg" in page
    form = {name: hidden_value(page, name) for name in ("address", "postal_code", "phone", "name", "email")}
    assert form == {
        "address": "88 Queen Street",
        "postal_code": "L4N 2K7",
        "phone": "905-555-0143",
        "name": "Omar Haddad",
        "email": "omar.haddad@example.org",
    }
    form.update(
        csrf_token=csrf,
        service_code="sidewalk_repair",
        kind="service_request",
        urgency="urgent",
        description="Lifted sidewalk slab in front of 88 Queen Street; a neighbour tripped.",
    )
    created = client.post(f"/console/email/{case.id}/request", data=form)
    assert created.status_code == 200
    reference = re.search(r"Linked: <a href=\"/console/requests/(SR-\d{4}-\d{6})\"", created.text)
    assert reference, "the case page links the new request"
    again = client.post(f"/console/email/{case.id}/request", data=form)
    assert again.status_code == 409 and f"already linked to {reference.group(1)}" in again.text

    reply = ingest(
        tmp_path / "later",
        session_factory,
        None,
        letter("More about the sidewalk", "It is right by the bus shelter.", "<more@x.org>"),
    )["<more@x.org>"]
    unknown = client.post(f"/console/email/{reply.id}/attach", data={"csrf_token": csrf, "reference": "SR-2026-999999"})
    assert unknown.status_code == 422 and "there is no service request SR-2026-999999" in unknown.text
    messy = reference.group(1).replace("-", " ").lower()  # as residents and agents type it
    assert (
        client.post(f"/console/email/{reply.id}/attach", data={"csrf_token": csrf, "reference": messy}).status_code
        == 200
    )
    thread = client.get(f"/console/email/{case.id}").text
    assert f'href="/console/email/{reply.id}"' in thread and "It is right by the bus shelter." in thread

    with session_factory() as session:
        request = session.scalars(select(ServiceRequest).where(ServiceRequest.reference == reference.group(1))).one()
        assert (request.channel, request.urgency, request.service.code) == ("email", "urgent", "sidewalk_repair")
        assert request.contact is not None and request.contact.email == "omar.haddad@example.org"
        assert request.contact.phone == "9055550143" and request.address == "88 Queen Street"
        assert [a.filename for a in request.attachments] == ["slab.jpg"]
        assert [n.body for n in request.notes] == ["It is right by the bus shelter."]
        linked = session.scalars(select(InboundEmail.id).where(InboundEmail.service_request_id == request.id)).all()
        assert sorted(linked) == sorted([case.id, reply.id])
        actions = session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.actor == staff["agent"], AuditEntry.action.not_like("%.view"))
            .order_by(AuditEntry.id)
        ).all()
        assert actions == ["auth.login", "request.create", "email.request", "request.attach_email", "email.attach"]

    done = client.post(
        f"/console/email/{case.id}/handled",
        data={"csrf_token": csrf, "note": "Filed for Roads."},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/console/queue"
    keys = [(i["kind"], i["key"]) for i in client.get("/console/api/queue").json()["items"]]
    assert ("email", str(case.id)) not in keys and ("email", str(reply.id)) in keys
    twice = client.post(f"/console/email/{case.id}/handled", data={"csrf_token": csrf})
    assert twice.status_code == 409 and "already marked this email handled" in twice.text
    with session_factory() as session:
        row = session.get(InboundEmail, case.id)
        assert row is not None and row.handled_by == staff["agent"] and row.handled_at is not None
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "email.handled")).one()
        assert entry.detail == {"note": "Filed for Roads.", "service_request": reference.group(1)}


# ---- answering the sender ----------------------------------------------------------------------------------

DOG = ("Dog licence", "Hello, how much is a dog licence in Harlow Falls, and can I buy it online? Thanks, Omar")


def threaded_letter(subject: str, body: str, message_id: str, earlier: list[str]) -> bytes:
    """A resident's message that itself answers an earlier thread (In-Reply-To and References set)."""
    message = EmailMessage()
    message["From"] = "Omar Haddad <omar.haddad@example.org>"
    message["To"] = "servicefirst@northvale.ca"
    message["Subject"] = subject
    message["Message-ID"] = message_id
    message["In-Reply-To"] = earlier[-1]
    message["References"] = " ".join(earlier)
    message.set_content(body)
    return message.as_bytes().replace(b"\n", b"\r\n")


def outbox(factory: sessionmaker[Session], email_id: int) -> list[OutboundMessage]:
    with factory() as session:
        rows = session.scalars(
            select(OutboundMessage).where(OutboundMessage.inbound_email_id == email_id).order_by(OutboundMessage.id)
        ).all()
        session.expunge_all()
    return list(rows)


def test_an_agent_answers_an_email_case_threaded_on_the_residents_message(
    app: Any, staff: dict[str, str], session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    earlier = ["<first@example.org>", "<second@example.org>"]
    case = ingest(tmp_path, session_factory, None, threaded_letter(*DOG, "<dog@example.org>", earlier))[
        "<dog@example.org>"
    ]
    [ack] = outbox(session_factory, case.id)
    assert ack.purpose == "acknowledgement" and f"will reply {email_reply_promise()}." in ack.body
    client, csrf = signed_in(app, staff["agent"])
    page = client.get(f"/console/email/{case.id}").text
    assert "Reply by email" in page and "Automatic acknowledgement" in page
    assert all(saved.title in page for saved in replies.SAVED_REPLIES)

    empty = client.post(f"/console/email/{case.id}/reply", data={"csrf_token": csrf, "text": "  "})
    assert empty.status_code == 422 and "the reply is empty" in empty.text
    answer = "A dog licence in Harlow Falls is $25 a year, or $15 for a spayed or neutered dog. You can buy it online."
    sent = client.post(f"/console/email/{case.id}/reply", data={"csrf_token": csrf, "text": answer})
    assert sent.status_code == 200 and "Agent&#39;s reply" in sent.text and "waiting to be sent" in sent.text
    reply = outbox(session_factory, case.id)[-1]
    assert (reply.purpose, reply.recipient, reply.subject) == ("reply", "omar.haddad@example.org", "Re: Dog licence")
    assert reply.in_reply_to == "<dog@example.org>"
    assert reply.references == "<first@example.org> <second@example.org> <dog@example.org>"
    assert reply.body.startswith(answer) and replies.SIGN_OFF in reply.body

    # Filing a request tells the resident its reference, in the same thread; later replies carry its tag.
    form = {
        "csrf_token": csrf,
        "service_code": "graffiti",
        "kind": "service_request",
        "urgency": "routine",
        "description": "Paint on the fence at 3 Mill Street",
        "address": "3 Mill Street",
        "email": "omar.haddad@example.org",
    }
    assert client.post(f"/console/email/{case.id}/request", data=form).status_code == 200
    told = outbox(session_factory, case.id)[-1]
    with session_factory() as session:
        request = session.scalars(select(ServiceRequest)).one()
        reference = request.reference
    assert told.purpose == "reference" and told.subject == f"[{reference}] Re: Dog licence"
    assert f"We have created service request {reference}" in told.body and told.service_request_id == request.id
    assert (told.in_reply_to, told.references) == (reply.in_reply_to, reply.references)
    again = client.post(f"/console/email/{case.id}/reply", data={"csrf_token": csrf, "text": "One more thing."})
    assert again.status_code == 200 and outbox(session_factory, case.id)[-1].subject == told.subject

    # The graffiti request is By-law's: an agent of another department neither sees it nor answers its email.
    with transaction(session_factory) as session:
        auth.create_user(session, "lee.roads@northvale.ca", "Lee Roads", PASSWORD, "agent", "transportation")
    roads, roads_csrf = signed_in(app, "lee.roads@northvale.ca")
    seen = roads.get(f"/console/email/{case.id}").text
    assert 'id="reply-form"' not in seen and reference not in seen  # what we sent names the request
    refused = roads.post(f"/console/email/{case.id}/reply", data={"csrf_token": roads_csrf, "text": "Hi"})
    assert refused.status_code == 409 and "another department handles" in refused.text
    assert len(outbox(session_factory, case.id)) == 4  # acknowledgement, reply, reference, reply
    with session_factory() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "email.reply")).all()
        assert [(e.actor, e.detail["service_request"]) for e in entries] == [
            (staff["agent"], None),
            (staff["agent"], reference),
        ]


def hidden_value(page: str, name: str) -> str:
    found = re.search(rf'name="{name}"[^>]*value="([^"]*)"', page)
    assert found, f"no {name} field in the page"
    return found.group(1)


@POSTGRES_ONLY
def test_two_agents_filing_the_same_email_at_once_make_one_request(
    session_factory: sessionmaker[Session], settings: Any, tmp_path: Path
) -> None:
    case = ingest(tmp_path, session_factory, None, letter(*SIDEWALK, "<sidewalk@x.org>"))["<sidewalk@x.org>"]

    def file_it(agent: str) -> Any:
        def attempt(session: Session) -> str | None:
            data = email_cases.service_requests.RequestIn(
                service_code="sidewalk_repair", description=SIDEWALK[1], channel="email", address="88 Queen Street"
            )
            return email_cases.create_request(session, email_cases.get(session, case.id), data, agent, None).reference

        return attempt

    outcomes = race(settings.sqlalchemy_url, [file_it("priya.raman@northvale.ca"), file_it("tom.wong@northvale.ca")])
    assert sum(isinstance(o, str) for o in outcomes) == 1, outcomes
    assert sum(isinstance(o, email_cases.NotAllowed) for o in outcomes) == 1, outcomes
    with session_factory() as session:
        assert len(session.scalars(select(ServiceRequest)).all()) == 1  # the loser's request rolled back


# ---- a stranger's HTML stays inert -------------------------------------------------------------------------


@SQLITE_ONLY
def test_a_hostile_html_email_is_shown_without_scripts_images_frames_or_forms(
    app: Any,
    staff: dict[str, str],
    session_factory: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    raw = letter(
        'Snow <img src=x onerror="window.pwned = true">',
        "Thank you to the crew who cleared the snow. <script>window.pwned = true</script>",
        "<snow@x.org>",
        html=HOSTILE_HTML,
    )
    case = ingest(tmp_path, session_factory, None, raw)["<snow@x.org>"]
    client, _ = signed_in(app, staff["agent"])
    page = client.get(f"/console/email/{case.id}").text
    message = page[page.index('id="email-message"') : page.index("<h3>Attachments</h3>")]
    for forbidden in ("<script", "<img", "<iframe", "<form", "<input", "onerror", "onclick", "javascript:", "style=",
                      "tracker.example", "evil.example"):  # fmt: skip
        assert forbidden not in message, forbidden
    assert "&lt;script&gt;window.pwned = true&lt;/script&gt;" in message  # the plain text shows it as text
    assert (
        '<a href="https://www.northvale.ca/snow" target="_blank" rel="noopener noreferrer">snow routes</a>' in message
    )
    assert "Styled words" in message and "Thank you to the crew who cleared the snow on Mill Street." in message
    assert "Snow &lt;img src=x onerror=" in page  # the subject, as text
    assert email_cases.safe_html('<a href="/console/logout">out</a>') == (
        '<a target="_blank" rel="noopener noreferrer">out</a>'  # relative links would point into the console
    )
