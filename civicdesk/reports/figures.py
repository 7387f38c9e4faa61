"""Figures for supervisors and Council over a period [start, end) of local (Northvale) dates, from the database.

Every figure is a list of (dimension, value) rows with a title, a unit and a one-line caption, so the HTML, PDF
and CSV outputs (`civicdesk.reports.render`) are three views of the same numbers. Free text that reaches a report
(the questions the assistant could not answer) passes through `civicdesk.privacy.redact` first: a report or an
extract never carries a resident's personal information.

Definitions used below:
- volumes count service requests created in the period, by channel, service, department and local hour;
- a conversation counts when the resident wrote at least once; it is *contained* when it never left the
  assistant (no handoff reason was ever set: `chat.to_queue` sets one whenever a conversation goes to the agents);
- time to route is from an email's arrival to the moment it was routed: by the pipeline (`processed_at`) for
  messages it routed alone, by an agent (`handled_at`) for those it left to a person;
- a request is resolved on target when it was closed at or before its due time (`due_at`, counted in the
  department's business hours);
- a misroute is an agent's correction whose service differs from the one the model predicted; classifier
  accuracy is the share of agent-reviewed emails whose predicted service the agent confirmed (reviewed emails
  are the ones the pipeline was unsure about, so this understates accuracy on all mail).
"""

from __future__ import annotations

import datetime as dt
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from civicdesk import labels
from civicdesk.business_time import REGION_TZ
from civicdesk.errors import InvalidInput
from civicdesk.models import (
    ChatMessage,
    Conversation,
    Department,
    InboundEmail,
    KnowledgeGap,
    Service,
    ServiceRequest,
    ServiceRequestChange,
    TriageCorrection,
)
from civicdesk.privacy import redact

REGION = "Regional Municipality of Northvale"
CENTRE = "Northvale Service First"
NO_SURVEY = "No chat in this period was rated: no resident answered the end-of-chat survey."
SCORES = {1: "1 poor", 2: "2 fair", 3: "3 good", 4: "4 very good", 5: "5 excellent"}
MAX_DAYS = 400  # a report covers at most about a year; longer ranges are a typo more often than not
GAP_CLUSTERS = 8  # the most frequent clusters of unanswered questions shown
GAP_EXAMPLES = 3
GAP_DISTINCT_LIMIT = 2000  # distinct questions clustered (the most asked); keeps clustering quick on big months
GAP_DISTANCE = 0.8  # cosine distance under which questions join one cluster (average linkage)


@dataclass(frozen=True)
class Period:
    """Local dates; `end` is excluded, so a month is [Nov 1, Dec 1)."""

    start: dt.date
    end: dt.date

    @property
    def start_utc(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time(0), REGION_TZ).astimezone(dt.UTC)

    @property
    def end_utc(self) -> dt.datetime:
        return dt.datetime.combine(self.end, dt.time(0), REGION_TZ).astimezone(dt.UTC)

    @property
    def label(self) -> str:
        last = self.end - dt.timedelta(days=1)
        return f"{self.start:%B} {self.start.day}, {self.start.year} to {last:%B} {last.day}, {last.year}"


def parse_period(start: str, end: str) -> Period:
    """The period from two ISO dates (YYYY-MM-DD), `end` excluded; a clear error when they make no period."""
    dates = []
    for name, text in (("from", start), ("to", end)):
        try:
            dates.append(dt.date.fromisoformat(text.strip()))
        except ValueError:
            raise InvalidInput(name, f"{text.strip()[:40]!r} is not a date like 2026-11-01") from None
    period = Period(dates[0], dates[1])
    if period.end <= period.start:
        raise InvalidInput("to", "the end date must be after the start date (the end date is not included)")
    if (period.end - period.start).days > MAX_DAYS:
        raise InvalidInput("to", f"a report covers at most {MAX_DAYS} days")
    return period


@dataclass
class Figure:
    key: str  # the metric's name in the CSV
    title: str
    caption: str
    dimension: str  # what the rows are (channel, service, week...)
    unit: str  # "requests", "%", "minutes"...
    rows: list[tuple[str, float]] = field(default_factory=list)
    chart: str = "bar"  # bar, barh, line, or none
    note: str | None = None  # shown instead of a chart when there is nothing to count


@dataclass(frozen=True)
class GapCluster:
    size: int  # how many times its questions were asked
    terms: list[str]
    title: str  # a suggested article title
    examples: list[str]  # redacted


@dataclass
class Report:
    period: Period
    generated_at: dt.datetime
    figures: list[Figure]
    gaps: list[GapCluster]

    def figure(self, key: str) -> Figure:
        return next(f for f in self.figures if f.key == key)

    def value(self, key: str, dimension: str) -> float:
        return dict(self.figure(key).rows)[dimension]


def _pct(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else 0.0


def _in(column: InstrumentedAttribute[Any], period: Period) -> ColumnElement[bool]:
    return and_(column >= period.start_utc, column < period.end_utc)


def _counted(counter: Counter[str], order: Iterable[str] | None = None) -> list[tuple[str, float]]:
    keys = list(order) if order is not None else [k for k, _ in counter.most_common()]
    return [(key, float(counter[key])) for key in keys]


# ---- volumes ----------------------------------------------------------------------------------------------------


def volumes(session: Session, period: Period) -> list[Figure]:
    rows = session.execute(
        select(ServiceRequest.channel, Service.name, Department.name, ServiceRequest.created_at)
        .join(Service, Service.id == ServiceRequest.service_id)
        .join(Department, Department.id == ServiceRequest.department_id)
        .where(_in(ServiceRequest.created_at, period))
    ).all()
    by_channel = Counter(r[0] for r in rows)
    by_service = Counter(r[1] for r in rows)
    by_department = Counter(r[2] for r in rows)
    by_hour = Counter(f"{r[3].astimezone(REGION_TZ).hour:02d}" for r in rows)
    total = len(rows)
    return [
        Figure(
            "requests_by_channel",
            "Service requests by channel",
            f"{total} service requests were created in the period, by the channel the resident used.",
            "channel",
            "requests",
            _counted(by_channel),
        ),
        Figure(
            "requests_by_service",
            "Service requests by service",
            "Requests by service in the catalogue, most requested first.",
            "service",
            "requests",
            _counted(by_service),
            chart="barh",
        ),
        Figure(
            "requests_by_department",
            "Service requests by department",
            "Requests by the department that owns the service.",
            "department",
            "requests",
            _counted(by_department),
            chart="barh",
        ),
        Figure(
            "requests_by_hour",
            "Service requests by hour of day",
            "Requests by the local hour (Eastern time) they were created, all channels.",
            "hour",
            "requests",
            _counted(by_hour, (f"{h:02d}" for h in range(24))),
        ),
    ]


# ---- the assistant ----------------------------------------------------------------------------------------------


def assistant(session: Session, period: Period) -> list[Figure]:
    resident_wrote = select(ChatMessage.conversation_id).where(ChatMessage.author == "resident").distinct()
    reasons = list(
        session.scalars(
            select(Conversation.handoff_reason).where(
                _in(Conversation.created_at, period), Conversation.id.in_(resident_wrote)
            )
        )
    )
    total = len(reasons)
    handed_off = Counter(labels.handoff_reason(r) for r in reasons if r is not None)
    contained = total - sum(handed_off.values())
    return [
        Figure(
            "assistant_containment",
            "Chats resolved by the assistant",
            f"Of {total} chats in which a resident wrote, {_pct(contained, total)}% never needed an agent "
            f"(contained); {_pct(total - contained, total)}% were handed off.",
            "outcome",
            "%",
            [("contained", _pct(contained, total)), ("handed off", _pct(total - contained, total))],
        ),
        Figure(
            "assistant_chats",
            "Chats by outcome",
            "Chats in which the resident wrote at least once: contained by the assistant, or handed to an agent.",
            "outcome",
            "chats",
            [("chats", float(total)), ("contained", float(contained)), ("handed off", float(total - contained))],
            chart="none",
        ),
        Figure(
            "handoff_reasons",
            "Why chats were handed to an agent",
            "Handoffs by the reason the assistant (or the gateway, when the assistant was down) gave.",
            "reason",
            "chats",
            _counted(handed_off),
            chart="barh",
        ),
    ]


# ---- resolution -------------------------------------------------------------------------------------------------


def first_contact_resolution(session: Session, period: Period) -> Figure:
    """Of the requests created in the period and closed before its end, the share resolved at first contact:
    closed without ever being reopened, and with no second contact from the resident about it: no email or chat
    linked to the request other than the one it was filed from (a request filed by phone, at the counter or on
    the web has none of its own, so any linked email or chat is a second contact)."""
    closed = session.execute(
        select(ServiceRequest.id, ServiceRequest.channel).where(
            _in(ServiceRequest.created_at, period),
            ServiceRequest.status == "closed",
            ServiceRequest.closed_at < period.end_utc,
        )
    ).all()
    ids = [row[0] for row in closed]
    own = {row[0]: 1 if row[1] in ("email", "chat") else 0 for row in closed}  # the contact it was filed from
    reopened = set(
        session.scalars(
            select(ServiceRequestChange.request_id).where(
                ServiceRequestChange.field == "status",
                ServiceRequestChange.old_value == "closed",
                ServiceRequestChange.request_id.in_(ids),
            )
        )
    )
    contacts: Counter[int] = Counter()
    for column, table in (
        (InboundEmail.service_request_id, InboundEmail),
        (Conversation.service_request_id, Conversation),
    ):
        for request_id, count in session.execute(
            select(column, func.count()).select_from(table).where(column.in_(ids)).group_by(column)
        ):
            if request_id is not None:
                contacts[request_id] += count
    again = {i for i in ids if contacts[i] > own[i]}
    first = sum(1 for i in ids if i not in reopened and i not in again)
    return Figure(
        "first_contact_resolution",
        "First-contact resolution",
        f"{_pct(first, len(ids))}% of the {len(ids)} requests created and closed in the period were resolved at "
        "first contact: never reopened, and no second email or chat from the resident about them.",
        "outcome",
        "requests",
        [
            ("closed", float(len(ids))),
            ("first contact", float(first)),
            ("reopened", float(len(reopened))),
            ("second contact", float(len(again))),
            ("first contact %", _pct(first, len(ids))),
        ],
    )


def _minutes(deltas: list[dt.timedelta]) -> float:
    return round(statistics.median(d.total_seconds() / 60 for d in deltas), 1) if deltas else 0.0


def time_to_route(session: Session, period: Period) -> Figure:
    rows = session.execute(
        select(InboundEmail.status, InboundEmail.received_at, InboundEmail.processed_at, InboundEmail.handled_at).where(
            _in(InboundEmail.received_at, period)
        )
    ).all()
    automatic = [r[2] - r[1] for r in rows if r[0] == "routed" and r[2] is not None]
    by_agent = [r[3] - r[1] for r in rows if r[0] in ("needs_human", "quarantined") and r[3] is not None]
    waiting = sum(1 for r in rows if r[0] in ("needs_human", "quarantined") and r[3] is None)
    return Figure(
        "time_to_route",
        "Time to route email",
        f"Median minutes from arrival to routing: by the pipeline for the {len(automatic)} emails it routed alone, "
        f"by an agent for the {len(by_agent)} it left to a person ({waiting} still waiting at the time of the report).",
        "path",
        "minutes",
        [("routed automatically", _minutes(automatic)), ("routed by an agent", _minutes(by_agent))],
    )


def email_outcomes(session: Session, period: Period) -> Figure:
    arrived = session.scalars(select(InboundEmail.status).where(_in(InboundEmail.received_at, period)))
    statuses = Counter(labels.email_status(status) for status in arrived)
    return Figure(
        "emails_by_outcome",
        "Email by outcome",
        f"{sum(statuses.values())} emails arrived: routed to a department, threaded onto an existing request, "
        "left to an agent, or set aside (bounces, auto-replies, unreadable).",
        "outcome",
        "emails",
        _counted(statuses),
    )


def resolution_on_target(session: Session, period: Period) -> list[Figure]:
    rows = session.execute(
        select(
            ServiceRequest.urgency, ServiceRequest.closed_at, ServiceRequest.due_at, ServiceRequest.created_at
        ).where(_in(ServiceRequest.created_at, period))
    ).all()
    # (urgency, closed_at, due_at, created_at) of the requests closed before the period's end
    closed = [(u, c, d, s) for u, c, d, s in rows if c is not None and c < period.end_utc]
    on_target = [r for r in closed if r[1] <= r[2]]
    open_late = sum(1 for _, c, d, _ in rows if (c is None or c >= period.end_utc) and d < period.end_utc)
    by_urgency = []
    for urgency in ("emergency", "urgent", "routine"):
        done = [r for r in closed if r[0] == urgency]
        if done:
            by_urgency.append((urgency, _pct(sum(1 for r in done if r[1] <= r[2]), len(done))))
    hours = [(c - s).total_seconds() / 3600 for _, c, _, s in closed]
    return [
        Figure(
            "resolved_on_target",
            "Requests resolved on target",
            f"{_pct(len(on_target), len(closed))}% of the {len(closed)} requests closed in the period met their "
            f"target (due time in business hours); {open_late} were still open past their due time at its end.",
            "urgency",
            "%",
            [("all", _pct(len(on_target), len(closed))), *by_urgency],
        ),
        Figure(
            "time_to_resolve",
            "Time to resolve",
            "Hours from creation to closing of the requests closed in the period (clock hours).",
            "statistic",
            "hours",
            [
                ("median", round(statistics.median(hours), 1) if hours else 0.0),
                ("90th percentile", round(_percentile(hours, 0.9), 1)),
                ("closed on target", float(len(on_target))),
                ("closed late", float(len(closed) - len(on_target))),
                ("open past due", float(open_late)),
            ],
            chart="none",
        ),
    ]


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# ---- the classifiers --------------------------------------------------------------------------------------------


def _predicted_service(predicted: dict[str, object]) -> str | None:
    head = predicted.get("service_code")
    label = head.get("label") if isinstance(head, dict) else None
    return str(label) if label else None


def classifier(session: Session, period: Period) -> list[Figure]:
    rows = session.execute(
        select(TriageCorrection.service_code, TriageCorrection.predicted, TriageCorrection.created_at).where(
            _in(TriageCorrection.created_at, period)
        )
    ).all()
    names = {code: name for code, name in session.execute(select(Service.code, Service.name))}
    misroutes: Counter[str] = Counter()
    weeks: dict[dt.date, list[bool]] = defaultdict(list)
    for corrected, predicted, at in rows:
        guessed = _predicted_service(predicted or {})
        if guessed is None:
            continue  # the model never read it (unreadable, or no model): nothing to score
        right = guessed == corrected
        if not right:
            misroutes[names.get(corrected or "", corrected or "unknown")] += 1
        local = at.astimezone(REGION_TZ).date()
        weeks[local - dt.timedelta(days=local.weekday())].append(right)
    scored = sum(len(v) for v in weeks.values())
    return [
        Figure(
            "misroutes_by_service",
            "Misroutes by service",
            f"{sum(misroutes.values())} of {scored} agent-reviewed emails had been predicted for the wrong service; "
            "counted under the service the agent chose.",
            "service",
            "emails",
            _counted(misroutes),
            chart="barh",
        ),
        Figure(
            "classifier_accuracy",
            "Classifier accuracy by week",
            "Share of agent-reviewed emails whose predicted service the agent confirmed, by week (starting "
            "Monday). Reviewed emails are the ones the model was unsure of.",
            "week",
            "%",
            [(f"{week:%Y-%m-%d}", _pct(sum(v), len(v))) for week, v in sorted(weeks.items())],
            chart="line",
        ),
    ]


# ---- knowledge gaps ---------------------------------------------------------------------------------------------

_TOKEN = re.compile(r"<[A-Z_]+>")


def cluster_gaps(questions: list[str]) -> list[GapCluster]:
    """The unanswered questions (already redacted) grouped by wording: TF-IDF of words and word pairs, then
    average-linkage clustering on cosine distance, so near-identical phrasings land together without choosing
    the number of clusters. Returns the largest clusters first, each with a suggested article title."""
    import numpy
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

    # scikit-learn's list drops words that are topics at a municipality ("bill", "fire", "call").
    stop_words = sorted(ENGLISH_STOP_WORDS - {"bill", "fire", "call", "system", "found"})

    asked = Counter(" ".join(q.split()) for q in questions if q.strip())
    distinct = [q for q, _ in asked.most_common(GAP_DISTINCT_LIMIT)]
    if not distinct:
        return []
    texts = [_TOKEN.sub(" ", q).lower() for q in distinct]  # "<PHONE>" says nothing about the topic
    times = numpy.array([asked[q] for q in distinct], dtype=float)
    vectorizer = TfidfVectorizer(stop_words=stop_words, ngram_range=(1, 2), min_df=1, sublinear_tf=True)
    try:
        matrix = vectorizer.fit_transform(texts)
    except ValueError:  # nothing but stop words and redacted details: nothing to cluster on
        return [GapCluster(int(times.sum()), [], "Questions to review", distinct[:GAP_EXAMPLES])]
    # Questions left with no words (only stop words or redacted details) cannot be compared: they form one group.
    worded = [i for i in range(len(distinct)) if matrix[i].nnz]
    wordless = [i for i in range(len(distinct)) if not matrix[i].nnz]
    labels = [0] * len(worded)
    if len(worded) > 1:
        model = AgglomerativeClustering(
            n_clusters=None, distance_threshold=GAP_DISTANCE, metric="cosine", linkage="average"
        )
        labels = [int(label) for label in model.fit_predict(matrix[worded].toarray())]
    members: dict[int, list[int]] = defaultdict(list)
    for index, label in zip(worded, labels, strict=True):
        members[label].append(index)
    terms = vectorizer.get_feature_names_out()
    pairs = numpy.array([len(str(t).split()) for t in terms])
    present = (matrix > 0).astype(float)
    clusters = []
    for indexes in members.values():
        # Terms in most of the cluster's questions (weighted by how often each was asked) name its topic; a
        # word pair beats its single words on a tie, and TF-IDF weight breaks the remaining ties.
        shared = numpy.asarray(present[indexes].T @ times[indexes]).ravel()
        weight = numpy.asarray(matrix[indexes].T @ times[indexes]).ravel()
        score = shared + 0.1 * pairs + 0.01 * weight
        top = [str(terms[j]) for j in score.argsort()[::-1][:4] if shared[j] > 0]
        examples = sorted((distinct[i] for i in indexes), key=lambda q: -asked[q])[:GAP_EXAMPLES]
        clusters.append(GapCluster(int(times[indexes].sum()), top, suggested_title(top), examples))
    if wordless:
        examples = [distinct[i] for i in wordless[:GAP_EXAMPLES]]  # `distinct` is most asked first
        clusters.append(GapCluster(int(times[wordless].sum()), [], "Questions to review", examples))
    clusters.sort(key=lambda c: (-c.size, c.title))
    return clusters[:GAP_CLUSTERS]


def suggested_title(terms: list[str]) -> str:
    """An article title from a cluster's top terms: the first term, then up to two other words that add to it
    ("Water bill: wrong, high")."""
    if not terms:
        return "Questions to review"
    main = terms[0]
    extra: list[str] = []
    for term in terms[1:]:
        extra.extend(w for w in term.split() if w not in main.split() and w not in extra)
    title = main[0].upper() + main[1:]
    return f"{title}: {', '.join(extra[:2])}" if extra else title


def knowledge_gaps(session: Session, period: Period) -> tuple[Figure, list[GapCluster]]:
    queries = list(session.scalars(select(KnowledgeGap.query).where(_in(KnowledgeGap.asked_at, period))))
    redacted = {q: redact(q) for q in set(queries)}  # the same question is often asked many times
    clusters = cluster_gaps([redacted[q] for q in queries])
    return (
        Figure(
            "knowledge_gaps",
            "Most frequent unanswered questions",
            f"{len(queries)} questions the assistant could not answer, grouped by wording; each group suggests "
            "an article to write.",
            "suggested article",
            "questions",
            [(c.title, float(c.size)) for c in clusters],
            chart="barh",
        ),
        clusters,
    )


def satisfaction(session: Session, period: Period) -> Figure:
    """The end-of-chat survey: residents who ended a chat in the period and rated it (1 poor to 5 excellent)."""
    rated = select(Conversation.rating).where(Conversation.rating.is_not(None), _in(Conversation.closed_at, period))
    scores = Counter(score for score in session.scalars(rated) if score is not None)
    answered = sum(scores.values())
    if not answered:
        return Figure("satisfaction", "Resident satisfaction", "From the end-of-chat survey.", "score", "chats",
                      chart="none", note=NO_SURVEY)  # fmt: skip
    average = sum(score * count for score, count in scores.items()) / answered
    content = 100 * (scores[4] + scores[5]) / answered
    return Figure(
        "satisfaction",
        "Resident satisfaction",
        f"{answered} residents rated their chat when they ended it: {average:.1f} of 5 on average, "
        f"{content:.0f}% very good or excellent.",
        "score",
        "chats",
        [(label, float(scores[score])) for score, label in SCORES.items()],
    )


def build(session: Session, period: Period, now: dt.datetime | None = None) -> Report:
    gaps_figure, clusters = knowledge_gaps(session, period)
    figures = [
        *volumes(session, period),
        *assistant(session, period),
        first_contact_resolution(session, period),
        email_outcomes(session, period),
        time_to_route(session, period),
        *resolution_on_target(session, period),
        *classifier(session, period),
        gaps_figure,
        satisfaction(session, period),
    ]
    return Report(period, now or dt.datetime.now(dt.UTC), figures, clusters)
