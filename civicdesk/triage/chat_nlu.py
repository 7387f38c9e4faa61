"""What residents typed that the assistant did not understand, as Rasa NLU training data for trainers to review.

Failed messages are (1) a resident's message the assistant answered with its fallback (utter_default, or the
not-understood hand-off; their texts are read from the bot's domain, since Rasa's REST channel returns the text
and not the response's name), (2) the last message before a hand-off whose reason is `not_understood`, and (3)
chat-source `triage_correction` rows, whose `kind` names the intent they belong to. The output is Rasa 3.x NLU
YAML; a message with no known intent goes under NEEDS_REVIEW, which a trainer moves to the right intent (or
drops) before adding the file to nlu_data/chat/. Personal information (civicdesk.privacy: names, emails, phone
numbers, street addresses, postal codes) is replaced with tokens: the file is meant to be read and committed, and
residents' personal information belongs in neither.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from civicdesk import privacy
from civicdesk.models import ChatMessage, Conversation, TriageCorrection
from civicdesk.settings import PROJECT_ROOT

NEEDS_REVIEW = "needs_review"
NOT_UNDERSTOOD = "not_understood"
FALLBACK_RESPONSES = ("utter_default", "utter_handoff_not_understood")
DOMAIN = PROJECT_ROOT / "bot" / "domain"
# The triage `kind` of a chat correction and the assistant's intent for that kind of message.
KIND_INTENTS = {
    "service_request": "report_problem",
    "information_request": "ask_question",
    "complaint": "file_complaint",
    "compliment": "compliment",
    "misdirected": "misdirected_request",
}
MAX_EXAMPLE_CHARS = 500

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def redact(text: str) -> str:
    """Personal information replaced by tokens; one line; square brackets made round, since `[text](entity)` is Rasa's
    entity markup and a resident's brackets must not be read as an annotation."""
    text = CONTROL.sub(" ", privacy.redact(text)).replace("[", "(").replace("]", ")")
    return " ".join(text.split())[:MAX_EXAMPLE_CHARS]


def _normal(text: str) -> str:
    return " ".join(text.split()).casefold()


def fallback_texts(domain: Path = DOMAIN) -> frozenset[str]:
    """The texts of the assistant's fallback responses, whitespace-normalised, from the bot's domain files."""
    found: set[str] = set()
    files = sorted(domain.glob("*.yml")) if domain.is_dir() else [domain]
    for file in files:
        responses = (yaml.safe_load(file.read_text(encoding="utf-8")) or {}).get("responses") or {}
        for name in FALLBACK_RESPONSES:
            found.update(_normal(variant["text"]) for variant in responses.get(name) or [] if variant.get("text"))
    return frozenset(found)


def _conversation_failures(
    messages: list[ChatMessage], handoff_reason: str | None, fallbacks: frozenset[str]
) -> Iterator[str]:
    typed = [i for i, m in enumerate(messages) if m.author == "resident" and not (m.payload or {}).get("button")]
    for position, index in enumerate(typed):
        answers = messages[index + 1 : typed[position + 1] if position + 1 < len(typed) else len(messages)]
        bot = [m for m in answers if m.author == "bot"]
        if bot and _normal(bot[0].text) in fallbacks:
            yield messages[index].text
    if handoff_reason == NOT_UNDERSTOOD and typed:
        # the hand-off followed the last message the assistant did not understand
        queued = next(
            (i for i, m in enumerate(messages) if m.author == "system" and "queue_position" in (m.payload or {})), None
        )
        before = [i for i in typed if queued is None or i < queued]
        if before:
            yield messages[before[-1]].text


def failed_examples(session: Session, fallbacks: frozenset[str] | None = None) -> dict[str, list[str]]:
    """Redacted, de-duplicated examples per intent (NEEDS_REVIEW for the ones no intent is known for)."""
    fallbacks = fallback_texts() if fallbacks is None else fallbacks
    by_intent: dict[str, list[str]] = {}
    seen: set[str] = set()

    def add(intent: str, texts: Iterable[str]) -> None:
        for text in texts:
            example = redact(text)
            if example and _normal(example) not in seen:
                seen.add(_normal(example))
                by_intent.setdefault(intent, []).append(example)

    conversations = session.scalars(
        select(Conversation)
        .where(Conversation.messages.any(ChatMessage.author == "resident"))
        .order_by(Conversation.id)
    )
    for conversation in conversations:
        add(NEEDS_REVIEW, _conversation_failures(list(conversation.messages), conversation.handoff_reason, fallbacks))
    corrections = session.scalars(
        select(TriageCorrection).where(TriageCorrection.source == "chat").order_by(TriageCorrection.id)
    )
    for correction in corrections:
        text = "\n".join(part for part in (correction.subject, correction.body) if part and part.strip())
        add(KIND_INTENTS.get(correction.kind or "", NEEDS_REVIEW), [text])
    return by_intent


def to_rasa_yaml(by_intent: dict[str, list[str]], generated_at: datetime | None = None) -> str:
    """Rasa 3.x NLU YAML: known intents in name order, then NEEDS_REVIEW."""
    moment = (generated_at or datetime.now(UTC)).isoformat(timespec="seconds")
    lines = [
        'version: "3.1"',
        "",
        f"# Chat messages the assistant did not understand, exported {moment} for review.",
        f"# Move each example to the intent it belongs to (or delete it); {NEEDS_REVIEW} is not an intent of the bot.",
        "# Personal information was replaced by <NAME>, <EMAIL>, <PHONE>, <ADDRESS> and <POSTAL_CODE>.",
        "nlu:",
    ]
    order = sorted(i for i in by_intent if i != NEEDS_REVIEW) + ([NEEDS_REVIEW] if NEEDS_REVIEW in by_intent else [])
    for intent in order:
        lines += [f"  - intent: {intent}", "    examples: |"]
        lines += [f"      - {example}" for example in by_intent[intent]]
    if not order:
        lines[-1] = "nlu: []"
    return "\n".join(lines) + "\n"


def export(session: Session, out: Path) -> dict[str, int]:
    """Write the YAML file; returns the number of examples per intent."""
    by_intent = failed_examples(session)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(to_rasa_yaml(by_intent), encoding="utf-8")
    return {intent: len(examples) for intent, examples in by_intent.items()}
