"""Answering residents from the knowledgebase kept in the core web app.

The search itself (ranking, the confidence threshold, the passage that answers, rendered for a chat bubble)
belongs to the core; this action only turns its answer into chat messages and records the outcome in the
``kb_outcome`` slot, which the rules use to decide what follows a "yes" or a "no". The question and the article
it was answered with are kept (``kb_question``, ``kb_article``) so that a "no" is recorded as a knowledge gap
with the resident's own words.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.clients.core import CoreAPIError, CoreClient, KBArticle

logger = logging.getLogger(__name__)

KB_OUTCOME_SLOT = "kb_outcome"
KB_CHOICES_SLOT = "kb_choices"
KB_QUESTION_SLOT = "kb_question"
KB_ARTICLE_SLOT = "kb_article"
# Entities that buttons carry: a topic from the help menu, or an article picked from a list.
KB_QUERY_ENTITY = "kb_query"
KB_SLUG_ENTITY = "kb_slug"

OUTCOME_ANSWERED = "answered"
OUTCOME_CHOICES = "choices"
OUTCOME_NO_RESULTS = "no_results"
OUTCOME_UNAVAILABLE = "unavailable"

# A resident can paste a whole letter into the chat; the search needs the gist, and a URL has limits.
MAX_QUERY_CHARS = 500

MORE_ON_THE_WEBSITE = "More on northvale.ca: {url}"
ASK_IF_ANSWERED = "Did that answer your question?"
YES_NO_BUTTONS = [
    {"title": "Yes", "payload": "/affirm"},
    {"title": "No", "payload": "/deny"},
]
OFFER_CHOICES = "I found a few articles that might help. Which one is closest to what you need?"
NONE_OF_THESE_BUTTON = {"title": "None of these", "payload": "/deny"}
NO_RESULTS = (
    "Sorry, I couldn't find an answer to that in our knowledgebase. "
    "Would you like me to connect you with a Service First agent?"
)
CONNECT_BUTTONS = [
    {"title": "Yes, connect me", "payload": "/affirm"},
    {"title": "No, thanks", "payload": "/deny"},
]
UNAVAILABLE = (
    "Sorry, I can't reach our knowledgebase right now, so I can't look that up for you. "
    "Please try again in a few minutes, or call Northvale Service First at 311 "
    "(905-555-0100 from outside the region, TTY 905-555-0199), "
    "Monday to Friday, 8:00 a.m. to 6:00 p.m."
)


class ActionSearchKnowledgebase(Action):
    def name(self) -> str:
        return "action_search_knowledgebase"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        chosen = _chosen_article(tracker)
        if chosen is not None:
            # The resident picked one of the articles we offered: answer from what the search
            # already returned, no second round trip.
            return _answer(dispatcher, chosen, keep_choices=True, in_task=bool(tracker.active_loop_name))

        query = _query_text(tracker)
        if not query:
            return _no_results(dispatcher)
        asked: list[EventType] = [SlotSet(KB_QUESTION_SLOT, query)]
        try:
            found = await CoreClient.from_env().search_knowledgebase(query, channel="chat", limit=3)
        except CoreAPIError as exc:
            # The resident gets a plain message and a phone number; the details go to the log
            # (without the resident's text, which may hold personal information).
            logger.warning("knowledgebase search failed: %s", exc)
            return asked + _unavailable(dispatcher)
        except Exception:
            # A bug of ours must not leave the resident without any reply: Rasa would only log
            # the action server's error and say nothing. The traceback goes to the log.
            logger.exception("knowledgebase search failed unexpectedly")
            return asked + _unavailable(dispatcher)

        if not found.results:
            return asked + _no_results(dispatcher)
        if found.confident:
            in_task = bool(tracker.active_loop_name)
            return asked + _answer(dispatcher, found.results[0], keep_choices=False, in_task=in_task)
        return asked + _offer_choices(dispatcher, found.results)


async def answer_when_confident(
    dispatcher: CollectingDispatcher, tracker: Tracker, question: str
) -> list[EventType] | None:
    """Answer `question` if the knowledgebase has a confident answer; else say nothing and return None.

    For a message the classifier took for something else (a referral the directory knows nothing of): when an
    article answers it with confidence, it was a question about the Region's own services after all."""
    if not question:
        return None
    try:
        found = await CoreClient.from_env().search_knowledgebase(question[:MAX_QUERY_CHARS], channel="chat", limit=3)
    except CoreAPIError as exc:
        logger.warning("knowledgebase search failed: %s", exc)
        return None
    if not (found.confident and found.results):
        return None
    in_task = bool(tracker.active_loop_name)
    answered = _answer(dispatcher, found.results[0], keep_choices=False, in_task=in_task)
    return [SlotSet(KB_QUESTION_SLOT, question[:MAX_QUERY_CHARS]), *answered]


def _entity_value(tracker: Tracker, entity: str) -> str | None:
    value = next(tracker.get_latest_entity_values(entity), None)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _query_text(tracker: Tracker) -> str:
    """The text to search for: what a button carries if a button was pressed, else what was typed."""
    topic = _entity_value(tracker, KB_QUERY_ENTITY)
    if topic:
        return topic[:MAX_QUERY_CHARS]
    slug = _entity_value(tracker, KB_SLUG_ENTITY)
    if slug:
        # An article button from an older list (its choices are gone): its slug still says what
        # the resident wanted, so search for it.
        return slug.replace("-", " ")[:MAX_QUERY_CHARS]
    text = (tracker.latest_message.get("text") or "").strip()
    if text.startswith("/"):
        # A bare intent payload (e.g. "/ask_question") carries no question to search for.
        return ""
    return text[:MAX_QUERY_CHARS]


def _chosen_article(tracker: Tracker) -> KBArticle | None:
    slug = _entity_value(tracker, KB_SLUG_ENTITY)
    if slug is None:
        return None
    for choice in tracker.get_slot(KB_CHOICES_SLOT) or []:
        if isinstance(choice, dict) and choice.get("slug") == slug:
            try:
                return KBArticle(
                    slug=str(choice["slug"]),
                    title=str(choice["title"]),
                    summary=str(choice["summary"]),
                    url=str(choice["url"]),
                    score=float(choice.get("score", 0.0)),
                    answer=_text_or_none(choice.get("answer")),
                    section=_text_or_none(choice.get("section")),
                )
            except (KeyError, TypeError, ValueError):
                return None
    return None


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def answer_text(article: KBArticle) -> str:
    """One chat bubble: the article (and section) it comes from, the passage that answers, the link.

    The passage is the core's, in the article's own words; an older core sends only the summary. The core's
    passage may open with its section's heading: the heading is then not repeated."""
    body = article.answer or article.summary
    named = article.section and article.answer and not article.answer.startswith(article.section)
    heading = f"{article.title}: {article.section}" if named else article.title
    return f"{heading}\n{body}\n{MORE_ON_THE_WEBSITE.format(url=article.url)}"


def _answer(
    dispatcher: CollectingDispatcher, article: KBArticle, *, keep_choices: bool, in_task: bool = False
) -> list[EventType]:
    dispatcher.utter_message(text=answer_text(article))
    if not in_task:
        # Inside a task the form asks its question next; a yes/no here would be taken as its answer.
        dispatcher.utter_message(text=ASK_IF_ANSWERED, buttons=YES_NO_BUTTONS)
    events: list[EventType] = [SlotSet(KB_OUTCOME_SLOT, OUTCOME_ANSWERED), SlotSet(KB_ARTICLE_SLOT, article.slug)]
    if not keep_choices:
        events.append(SlotSet(KB_CHOICES_SLOT, None))
    return events


def _offer_choices(dispatcher: CollectingDispatcher, articles: tuple[KBArticle, ...]) -> list[EventType]:
    buttons = [_choice_button(article) for article in articles]
    dispatcher.utter_message(text=OFFER_CHOICES, buttons=[*buttons, NONE_OF_THESE_BUTTON])
    choices: list[dict[str, Any]] = [
        {
            "slug": a.slug,
            "title": a.title,
            "summary": a.summary,
            "url": a.url,
            "score": a.score,
            "answer": a.answer,
            "section": a.section,
        }
        for a in articles
    ]
    return [SlotSet(KB_OUTCOME_SLOT, OUTCOME_CHOICES), SlotSet(KB_CHOICES_SLOT, choices)]


def _choice_button(article: KBArticle) -> dict[str, str]:
    # The payload bypasses NLU: the intent is known and the slug travels as an entity.
    entities = json.dumps({KB_SLUG_ENTITY: article.slug})
    return {"title": article.title, "payload": f"/ask_question{entities}"}


def _no_results(dispatcher: CollectingDispatcher) -> list[EventType]:
    dispatcher.utter_message(text=NO_RESULTS, buttons=CONNECT_BUTTONS)
    return [SlotSet(KB_OUTCOME_SLOT, OUTCOME_NO_RESULTS), SlotSet(KB_CHOICES_SLOT, None)]


def _unavailable(dispatcher: CollectingDispatcher) -> list[EventType]:
    dispatcher.utter_message(text=UNAVAILABLE)
    return [SlotSet(KB_OUTCOME_SLOT, OUTCOME_UNAVAILABLE), SlotSet(KB_CHOICES_SLOT, None)]


class ActionRecordUnanswered(Action):
    """The resident said an answer did not help: the question becomes a knowledge gap, with the article given.

    Trainers see it on the knowledge-gap page (reason "not_answered") and can fix the article or write another.
    What the assistant says next (the offer of an agent) is the rules' business."""

    def name(self) -> str:
        return "action_record_unanswered"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        question = tracker.get_slot(KB_QUESTION_SLOT)
        if not isinstance(question, str) or not question.strip():
            return []  # no question kept (a conversation from before the slot existed): nothing to record
        article = tracker.get_slot(KB_ARTICLE_SLOT)
        try:
            await CoreClient.from_env().report_gap(
                question, reason="not_answered", article=article if isinstance(article, str) else None
            )
        except CoreAPIError as error:  # the offer of an agent must not wait on the knowledge-gap log
            logger.warning("could not record a knowledge gap: %s", error)
        return []
