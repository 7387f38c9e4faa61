"""Referral lookup: which other organization handles what a resident asked about (a passport, a power outage).

The directory is a few dozen organizations, so each lookup scores all of them in memory. A word counts more
the rarer it is in the directory (inverse document frequency) and the stronger the field it matches in: an
organization's topics are written for this lookup and weigh most, then its name, then its description. A topic
phrase found whole in the question ("power outage", "rent increase") adds its weight again, so a precise match
beats a scattering of common words. A few everyday words are mapped to the directory's terms ("the 401" ->
"highway") and words are reduced to a rough stem ("evicted", "eviction" -> "evict").
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from civicdesk.models import ReferralOrganization

TOPIC_WEIGHT = 3.0
NAME_WEIGHT = 2.0
DESCRIPTION_WEIGHT = 1.0
MINIMUM_SCORE = 6.0  # below: a stray word of a description or half a topic ("garbage day" finds "snow day")

# Words that say nothing about which organization is meant.
# fmt: off
STOPWORDS = frozenset({
    "a", "about", "am", "an", "and", "any", "are", "as", "at", "be", "been", "but", "by", "can", "could", "did",
    "do", "does", "doing", "for", "from", "get", "got", "had", "has", "have", "he", "her", "hi", "his", "hello",
    "how", "i", "if", "im", "in", "into", "is", "it", "its", "ive", "just", "me", "my", "need", "of", "on", "or",
    "our", "please", "she", "should", "so", "some", "than", "thank", "thanks", "that", "the", "their", "them",
    "there", "they", "this", "to", "us", "want", "was", "we", "were", "what", "when", "where", "which", "who",
    "why", "will", "with", "would", "you", "your"
})
# fmt: on

# Everyday words for the directory's terms, replaced before stemming.
SYNONYMS = {
    "license": "licence",
    "licenses": "licences",
    "hwy": "highway",
    "401": "highway",
    "403": "highway",
    "404": "highway",
    "407": "highway",
    "410": "highway",
    "qew": "highway",
    "blackout": "outage",
    "electric": "electricity",
    "renter": "tenant",
    "cop": "police",
    "cops": "police",
    "burglary": "break",
    "robbed": "theft",
    "stole": "stolen",
    "lawyer": "legal",
}

# Ways of saying something the directory words differently, added to the question before it is scored.
PHRASES = [
    (re.compile(r"\b(?:power|hydro|electricity|lights)\b(?:\W+\w+){0,3}?\W+out\b"), "power outage"),
]


def stem(word: str) -> str:
    """A deliberately rough stemmer: the same word in different forms should meet, nothing more."""
    for suffix, replacement in (("ies", "y"), ("ing", ""), ("ion", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)] + replacement
            break
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiou":
        word = word[:-1]  # digging -> digg -> dig
    if len(word) > 4 and word.endswith("e"):
        word = word[:-1]  # outage and outages -> outag
    return word


def words(text: str) -> list[str]:
    text = text.lower().replace("\u2019", "'")
    text = " ".join([text, *(meaning for pattern, meaning in PHRASES if pattern.search(text))])
    text = re.sub(r"'s\b", "", text).replace("'", "")  # driver's -> driver, won't -> wont
    return [stem(SYNONYMS.get(token, token)) for token in re.findall(r"[a-z0-9]+", text) if token not in STOPWORDS]


@dataclass(frozen=True)
class Referral:
    code: str
    name: str
    level: str
    description: str
    phone: str | None
    website: str | None
    hours: str | None
    score: float


@dataclass
class _Entry:
    organization: ReferralOrganization
    topics: list[set[str]]
    name: set[str]
    description: set[str]

    @property
    def all_words(self) -> set[str]:
        return set().union(*self.topics, self.name, self.description)


def _score(entry: _Entry, asked: set[str], idf: dict[str, float]) -> float:
    score = 0.0
    for word in asked:
        # A topic word counts in proportion to how much of its topic was asked about: "day" alone should not
        # find "snow day", while "passport" is a whole topic by itself.
        coverage = max((len(topic & asked) / len(topic) for topic in entry.topics if word in topic), default=0.0)
        weight = max(
            TOPIC_WEIGHT * coverage,
            NAME_WEIGHT if word in entry.name else 0.0,
            DESCRIPTION_WEIGHT if word in entry.description else 0.0,
        )
        score += weight * idf.get(word, 0.0)
    for topic in entry.topics:
        if len(topic) > 1 and topic <= asked:
            score += sum(idf[word] for word in topic)
    return score


def lookup(session: Session, text: str, limit: int = 3) -> list[Referral]:
    """The organizations that best match the resident's words, best first; empty when nothing matches well."""
    asked = set(words(text))
    if not asked:
        return []
    entries = [
        _Entry(
            organization=organization,
            topics=[set(words(topic)) for topic in organization.topics],
            name=set(words(organization.name)),
            description=set(words(organization.description)),
        )
        for organization in session.scalars(select(ReferralOrganization).order_by(ReferralOrganization.code))
    ]
    frequency: dict[str, int] = {}
    for entry in entries:
        for word in entry.all_words:
            frequency[word] = frequency.get(word, 0) + 1
    idf = {word: math.log(1 + len(entries) / count) for word, count in frequency.items()}
    scored = sorted(
        ((round(_score(entry, asked, idf), 3), entry.organization) for entry in entries),
        key=lambda pair: -pair[0],
    )
    return [
        Referral(
            code=organization.code,
            name=organization.name,
            level=organization.level,
            description=organization.description,
            phone=organization.phone,
            website=organization.website,
            hours=organization.hours,
            score=score,
        )
        for score, organization in scored[:limit]
        if score >= MINIMUM_SCORE
    ]
