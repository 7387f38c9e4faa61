"""Requests another organization handles: the core's referral directory says who.

When the directory knows no organization for the message, the message may be a question about the Region's own
services that the classifier took for a referral ("what hours can my neighbour use power tools"): a confident
knowledgebase answer is given then, and the rules treat it as any other answer (kb_outcome "answered")."""

from __future__ import annotations

import logging

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.clients.core import CoreAPIError, CoreClient, Referral
from actions.knowledge import KB_OUTCOME_SLOT, answer_when_confident

logger = logging.getLogger(__name__)

MAX_QUERY_CHARS = 500
AGENT_BUTTON = {"title": "Talk to a person", "payload": "/request_human"}
# A referral is no knowledgebase answer: a "yes" or "no" after it must not be taken for one (the rules read it).
NO_ANSWER = SlotSet(KB_OUTCOME_SLOT, None)


def describe(referral: Referral) -> str:
    parts = [f"{referral.name}: {referral.description}"]
    reach = [p for p in (referral.phone and f"phone {referral.phone}", referral.website) if p]
    if reach:
        parts.append("Contact: " + ", ".join(reach) + ".")
    if referral.hours:
        parts.append(f"Hours: {referral.hours.rstrip('.')}.")
    return " ".join(parts)


class ActionRefer(Action):
    def name(self) -> str:
        return "action_refer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        text = (tracker.latest_message.get("text") or "").strip()[:MAX_QUERY_CHARS]
        try:
            found = await CoreClient.from_env().lookup_referrals(text) if text else []
        except CoreAPIError as exc:
            logger.warning("referral lookup failed: %s", exc)
            found = []
        if not found:
            answered = await answer_when_confident(dispatcher, tracker, text)
            if answered is not None:
                return answered
            dispatcher.utter_message(
                text=(
                    "That may be handled by another organization, and I'm not sure which one. A Service First "
                    "agent can find out for you."
                ),
                buttons=[AGENT_BUTTON],
            )
            return [NO_ANSWER]
        best, *others = found
        dispatcher.utter_message(
            text=f"That isn't handled by the Region, but this organization can help. {describe(best)}"
        )
        if others:
            dispatcher.utter_message(text=f"It may also be: {describe(others[0])}")
        return [NO_ANSWER]
