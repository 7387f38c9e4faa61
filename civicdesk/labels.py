"""Human words for the codes the system stores: the one place the console's pages and the reports take them from.

Staff and Council read "Smell of gas" and "Left to an agent", never `emergency_gas_smell` or `needs_human`. Names
that live in the database (services, appointment types, locations) come from there; this module words the codes
that have no row of their own: handoff reasons, emergency rules, channels, statuses, roles, the assistant's slots.
A code missing here still reads as words (`words`), so a new one is never shown with underscores.
"""

from __future__ import annotations

import re


def words(code: str) -> str:
    """A code as plain words, first letter capital: the fallback for a code this module does not name yet."""
    text = code.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


# What an emergency is about: the emergency rules' ids (classifiers/patterns/emergency.jsonl) and the topics of the
# assistant's emergency intents (`emergency_<topic>`, see actions/handoff.py).
EMERGENCIES = {
    "animal_attack": "Animal attack",
    "carbon_monoxide": "Carbon monoxide",
    "chemical_spill": "Chemical spill",
    "downed_lines": "Downed power lines",
    "downed_wires": "Downed power lines",
    "fire": "Fire",
    "flooding": "Flooding",
    "gas_smell": "Smell of gas",
    "manhole_cover_missing": "Missing manhole cover",
    "outbreak": "Disease outbreak",
    "person_hurt": "Someone hurt",
    "road_hazard": "Road hazard",
    "sewage_backup": "Sewage backup",
    "sinkhole": "Sinkhole",
    "traffic_control_out": "Traffic lights out",
    "trapped_in_car": "Someone trapped in a car",
    "tree_on_structure": "Tree on a building or car",
    "water_gushing": "Water gushing",
    "water_main_break": "Water main break",
}
EMERGENCY_PREFIX = "emergency_"

# Why a conversation waits for a person, as the assistant (actions/handoff.py) or the gateway says it.
HANDOFF_REASONS = {
    "resident_request": "Resident asked for a person",
    "frustration": "Resident is frustrated",
    "complaint": "Complaint or appeal",
    "damage_claim": "Claim for damage or injury",
    "not_understood": "Assistant did not understand",
    "mental_health_crisis": "Mental health crisis",
    "submission_failed": "Report could not be filed",
    "assistant_unavailable": "Assistant was unavailable",
    "assistant_no_reply": "Assistant could not answer",
    "bot_request": "Assistant passed it on",
}

# Why a question is a knowledge gap (KnowledgeGap.reason, civicdesk/knowledge/api.py), as the gaps page says it.
GAP_REASONS = {
    "unsure_search": "No confident article",
    "not_understood": "Not understood",
    "not_answered": "Answer did not help",
}


def emergency(code: str) -> str:
    return EMERGENCIES.get(code, words(code))


def handoff_reason(code: str | None) -> str:
    if not code:
        return ""
    if code in HANDOFF_REASONS:
        return HANDOFF_REASONS[code]
    if code.startswith(EMERGENCY_PREFIX):
        return f"Emergency: {emergency(code.removeprefix(EMERGENCY_PREFIX)).lower()}"
    return words(code)


# The triage model's heads, as an email case's reason names them ("service_code unclear: ...").
HEADS = {"service_code": "service", "kind": "kind of message", "urgency": "urgency"}


def head(code: str) -> str:
    """A triage head in words ("service_code" -> "Service")."""
    name = HEADS.get(code, words(code))
    return name[:1].upper() + name[1:]


_RULES = re.compile(r"^emergency \(rules: (?P<rules>[^)]*)\)$")


def email_reason(text: str | None) -> str:
    """Why an email case waits for an agent, in words: the ingester's reason with rule ids and head names worded
    and each emergency rule named once ("emergency (rules: water_gushing, water_gushing)" -> "Emergency: water
    gushing")."""
    text = (text or "needs a person").strip()
    found = _RULES.match(text)
    if found:
        rules = list(dict.fromkeys(rule.strip() for rule in found["rules"].split(",") if rule.strip()))
        text = "emergency: " + ", ".join(emergency(rule).lower() for rule in rules)
    for head, name in HEADS.items():
        text = re.sub(rf"\b{head}\b", name, text)
    text = text.replace("_", " ")
    return text[:1].upper() + text[1:]


CHANNELS = {
    "chat": "Chat",
    "web": "Web form",
    "email": "Email",
    "phone": "Phone",
    "counter": "Counter",
    "open311": "Open311 app",
    "console": "Agent console",
}
# An inbound email's status (models/mail.py), as the report and the console say where it went.
EMAIL_STATUSES = {
    "stored": "Not processed yet",
    "routed": "Routed to a department",
    "threaded": "Added to an existing request",
    "needs_human": "Left to an agent",
    "quarantined": "Set aside as unreadable",
    "bounce": "Delivery report",
    "ignored": "Auto-reply, ignored",
}
# What we sent a resident (OutboundMessage.purpose and .status), as the email case page lists it.
OUTBOUND_PURPOSES = {
    "acknowledgement": "Automatic acknowledgement",
    "reply": "Agent's reply",
    "reference": "Request reference",
    "update": "Request update",
}
OUTBOUND_STATUSES = {"pending": "waiting to be sent", "sent": "sent", "failed": "could not be delivered"}
ROLES = {
    "agent": ("agent", "agents"),
    "trainer": ("trainer", "trainers"),
    "supervisor": ("supervisor", "supervisors"),
    "admin": ("administrator", "administrators"),
}
# What the assistant collected (its slots, actions/handoff.py SUMMARY_SLOTS), by name.
SLOTS = {
    "service_code": "Service",
    "attribute_answers": "Answers",
    "location": "Location",
    "address": "Address",
    "municipality": "Municipality",
    "description": "Description",
    "reference": "Request reference",
    "appointment_type": "Appointment",
    "appointment_wish": "Preferred day or time",
    "appointment_slot": "Chosen time",
    "booking_reference": "Booking reference",
    "event": "Event",
    "party_size": "People",
    "form_item": "Form",
    "contact_name": "Name",
    "contact": "Contact",
    "mail_street": "Mailing street",
    "mail_city": "Mailing city",
    "postal_code": "Postal code",
}


def channel(code: str) -> str:
    return CHANNELS.get(code, words(code))


def email_status(code: str) -> str:
    return EMAIL_STATUSES.get(code, words(code))


def outbound_purpose(code: str) -> str:
    return OUTBOUND_PURPOSES.get(code, words(code))


def outbound_status(code: str) -> str:
    return OUTBOUND_STATUSES.get(code, words(code))


def role(code: str, plural: bool = False) -> str:
    singular, many = ROLES.get(code, (code.replace("_", " "), code.replace("_", " ") + "s"))
    return many if plural else singular


def slot(name: str) -> str:
    return SLOTS.get(name, words(name))


# What a staff member did, as the activity lists on the chat, email and request pages say it (audit log actions).
AUDIT_ACTIONS = {
    "auth.login": "signed in",
    "auth.logout": "signed out",
    "auth.throttled": "sign-in refused after too many tries",
    "chat.claim": "claimed the chat",
    "chat.close": "closed the chat",
    "chat.hand_back": "handed the chat back to the assistant",
    "chat.note": "added a note",
    "chat.reply": "replied",
    "chat.request": "filed a service request",
    "chat.request_update": "updated the service request",
    "conversation.view": "viewed the chat",
    "email.attach": "attached the email to a request",
    "email.confirm": "confirmed the triage labels",
    "email.correct": "corrected the triage labels",
    "email.handled": "marked the email handled",
    "email.reply": "replied to the sender by email",
    "email.request": "filed a service request",
    "email.view": "viewed the email",
    "request.attach_email": "attached an email",
    "request.create": "created the request",
    "request.update": "updated the request",
    "request.view": "viewed the request",
    "sla.escalate": "escalated: waiting past its service level",
    "triage.promote": "promoted a triage model",
    "triage.retrain": "retrained the triage models",
    "triage.rollback": "rolled back a triage model",
    "user.create": "created a console account",
    "user.disable": "disabled a console account",
    "resident_export": "exported a resident's records",
    "resident_erase": "erased a resident's records",
}


def audit_action(code: str) -> str:
    return AUDIT_ACTIONS.get(code, code.replace(".", ": ").replace("_", " "))


# The assistant's handoff summary (actions/handoff.py `summary`) is lines of "Name: value": why, the task under way,
# each detail collected (as stored codes: "Appointment type: flu_covid_vaccine") and the resident's last words.
# Staff read the details worded from the structured slots instead, so only these lines of it are shown.
SUMMARY_LINES = ("Reason:", "Task under way:", "Last message:")


def summary(text: str | None) -> str:
    """The assistant's summary without its lines of raw details (shown worded elsewhere on the page)."""
    lines = [line for line in (text or "").splitlines() if line.startswith(SUMMARY_LINES)]
    return " ".join(lines) if lines else (text or "").strip()


def spaced(code: str) -> str:
    """A lower-case code read inside a sentence ("in_progress" -> "in progress"): statuses, kinds, urgencies."""
    return code.replace("_", " ")
