"""Reports: figures computed from the database match hand-counted totals, on a small exact scenario and on a
generated month (bench/generate_activity.py); the HTML, PDF and CSV render with their charts; the console page
is for supervisors and administrators only; a resident's personal information never reaches a report."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pypdfium2
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from civicdesk import labels
from civicdesk.app import create_app
from civicdesk.cli import app as cli_app
from civicdesk.db import transaction
from civicdesk.errors import InvalidInput
from civicdesk.models import Service
from civicdesk.reports import figures as reports
from civicdesk.reports import render as report_render
from civicdesk.settings import PROJECT_ROOT, Settings, get_settings
from civicdesk.staff import auth

sys.path.insert(0, str(PROJECT_ROOT / "bench"))
import generate_activity as activity  # noqa: E402

OCTOBER = reports.Period(dt.date(2026, 10, 1), dt.date(2026, 11, 1))
PASSWORD = "correct horse battery staple"
SQLITE_ONLY = pytest.mark.parametrize("seeded_template", ["sqlite"], indirect=True)
# A question with personal information in it: none of it may reach a report.
PRIVATE_QUESTION = "my name is Jo Smith, call me at 905-555-0143 or jo.smith@example.ca about the fire pit permit"
PRIVATE_BITS = ("smith", "0143", "example.ca")  # looked for in lower case


@pytest.fixture
def database_url(seeded_database_url: str) -> str:
    return seeded_database_url


def day(n: int) -> dt.date:
    return dt.date(2026, 10, n)


def exact_scenario(session: Session) -> None:
    """A small October whose every figure is counted by hand in the test below."""
    add, local = activity.add_request, activity.local
    # Six direct requests (Tuesday October 6 and Wednesday October 7): 3 phone, 2 web, 1 counter.
    r1 = add(session, "road_repair", "phone", local(day(6), 9, 15), number=1)
    r2 = add(session, "road_repair", "phone", local(day(6), 9, 40), number=2)
    r3 = add(session, "road_repair", "phone", local(day(6), 9, 50), number=3)
    r4 = add(session, "missed_collection", "web", local(day(7), 14, 0), number=4)
    add(session, "missed_collection", "web", local(day(7), 14, 30), number=5)
    add(session, "noise_complaint", "counter", local(day(31), 23, 59), number=6)  # the period's last minute
    # Outside the period: not counted anywhere.
    add(session, "road_repair", "phone", local(dt.date(2026, 9, 30), 23, 59), number=90)
    add(session, "road_repair", "phone", local(dt.date(2026, 11, 1), 0, 0), number=91)

    minute, hour = dt.timedelta(minutes=1), dt.timedelta(hours=1)
    activity.close_request(session, r1, r1.due_at - minute)  # on target, first contact
    activity.close_request(session, r2, r2.due_at + hour)  # late, first contact
    activity.close_request(session, r3, r3.due_at - minute, reopen=True)  # on target, reopened
    activity.close_request(session, r4, r4.due_at - minute)  # on target, but the resident wrote again:
    activity.add_email(session, local(day(8), 10, 0), "threaded", number=40, request=r4)

    # Chats: 3 contained (one filed a request itself), 3 handed off; one widget opened with nothing typed.
    r7 = add(session, "streetlight_out", "chat", local(day(12), 20, 5), number=7)
    activity.add_chat(session, local(day(12), 20, 0), request=r7)
    activity.add_chat(session, local(day(13), 10, 0), rating=5)
    activity.add_chat(session, local(day(14), 11, 0), rating=4)
    activity.add_chat(session, local(day(15), 9, 0), handoff_reason="resident_request", rating=2)
    activity.add_chat(session, local(day(16), 9, 0), handoff_reason="resident_request")
    activity.add_chat(session, local(day(16), 15, 0), handoff_reason="not_understood")
    from civicdesk.chat import service as chat

    silent = chat.start(session)
    silent.created_at = local(day(17), 9, 0)

    # Email: 2 routed by the pipeline (2 and 4 minutes), 3 left to agents (handled after 30, 60, 90 minutes).
    for number, minutes in ((50, 2.0), (51, 4.0)):
        received = local(day(20), 8, number - 50)
        request = add(session, "snow_ice", "email", received, number=number)
        activity.add_email(session, received, "routed", number=number, service_code="snow_ice",
                           route_minutes=minutes, request=request)  # fmt: skip
    # week of Monday October 5: one confirmed, one misrouted; week of October 19: one misrouted
    activity.add_email(session, local(day(6), 9, 0), "needs_human", number=60, service_code="road_repair",
                       predicted_service="road_repair", route_minutes=30)  # fmt: skip
    activity.add_email(session, local(day(7), 9, 0), "needs_human", number=61, service_code="road_repair",
                       predicted_service="snow_ice", route_minutes=60)  # fmt: skip
    activity.add_email(session, local(day(20), 9, 0), "needs_human", number=62, service_code="noise_complaint",
                       predicted_service="graffiti", route_minutes=90)  # fmt: skip

    for when, question in (
        (local(day(3), 10, 0), "when is the last yard waste pickup"),
        (local(day(4), 10, 0), "when is the last yard waste pickup"),
        (local(day(5), 10, 0), "last yard waste pickup date"),
        (local(day(6), 10, 0), PRIVATE_QUESTION),
        (local(dt.date(2026, 11, 2), 10, 0), "outside the period"),
    ):
        activity.add_gap(session, when, question)


def test_an_exact_scenario_gives_the_hand_counted_figures(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as session:
        exact_scenario(session)
    with session_factory() as session:
        report = reports.build(session, OCTOBER)
        names = {code: name for code, name in session.execute(select(Service.code, Service.name))}

    def rows(key: str) -> dict[str, float]:
        return dict(report.figure(key).rows)

    assert rows("requests_by_channel") == {"phone": 3, "web": 2, "counter": 1, "chat": 1, "email": 2}
    assert rows("requests_by_service") == {
        names["road_repair"]: 3, names["missed_collection"]: 2, names["snow_ice"]: 2,
        names["noise_complaint"]: 1, names["streetlight_out"]: 1,
    }  # fmt: skip
    hours = rows("requests_by_hour")
    assert len(hours) == 24 and sum(hours.values()) == 9
    assert (hours["09"], hours["14"], hours["20"], hours["23"], hours["08"]) == (3, 2, 1, 1, 2)

    assert rows("assistant_chats") == {"chats": 6, "contained": 3, "handed off": 3}
    assert rows("assistant_containment") == {"contained": 50.0, "handed off": 50.0}
    assert rows("handoff_reasons") == {"Resident asked for a person": 2, "Assistant did not understand": 1}

    # closed: r1, r2, r3, r4; r3 was reopened, r4 had a second contact: 2 of 4 at first contact
    assert rows("first_contact_resolution") == {
        "closed": 4, "first contact": 2, "reopened": 1, "second contact": 1, "first contact %": 50.0,
    }  # fmt: skip
    assert rows("resolved_on_target") == {"all": 75.0, "routine": 75.0}  # r2 was late
    assert rows("time_to_resolve")["closed late"] == 1

    assert rows("emails_by_outcome") == {
        "Left to an agent": 3, "Routed to a department": 2, "Added to an existing request": 1,
    }  # fmt: skip
    assert rows("time_to_route") == {"routed automatically": 3.0, "routed by an agent": 60.0}
    assert rows("misroutes_by_service") == {names["road_repair"]: 1, names["noise_complaint"]: 1}
    assert rows("classifier_accuracy") == {"2026-10-05": 50.0, "2026-10-19": 0.0}

    assert sum(rows("knowledge_gaps").values()) == 4
    yard = next(c for c in report.gaps if c.size == 3)
    assert "yard" in yard.title.lower() and "waste" in yard.title.lower()
    assert yard.examples[0] == "when is the last yard waste pickup"
    assert rows("satisfaction") == {"1 poor": 0, "2 fair": 1, "3 good": 0, "4 very good": 1, "5 excellent": 1}
    assert "3 residents rated" in report.figure("satisfaction").caption
    assert "3.7 of 5 on average, 67% very good or excellent" in report.figure("satisfaction").caption


def test_a_generated_month_matches_what_the_generator_made(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as session:
        ledger = activity.generate_month(session, OCTOBER.start, seed=11)
    with session_factory() as session:
        report = reports.build(session, OCTOBER)
        names = {code: name for code, name in session.execute(select(Service.code, Service.name))}
    assert 150 <= ledger.requests <= 400  # sized for tests: a few hundred records

    def rows(key: str) -> dict[str, float]:
        return dict(report.figure(key).rows)

    assert rows("requests_by_channel") == dict(ledger.requests_by_channel)
    assert rows("requests_by_service") == {names[code]: n for code, n in ledger.requests_by_service.items()}
    assert sum(rows("requests_by_department").values()) == ledger.requests
    assert sum(rows("requests_by_hour").values()) == ledger.requests
    assert rows("assistant_chats") == {
        "chats": ledger.chats, "contained": ledger.contained, "handed off": ledger.chats - ledger.contained,
    }  # fmt: skip
    assert rows("handoff_reasons") == {labels.handoff_reason(code): n for code, n in ledger.handoff_reasons.items()}
    assert rows("satisfaction") == {label: ledger.ratings[score] for score, label in reports.SCORES.items()}
    assert rows("emails_by_outcome") == {labels.email_status(code): n for code, n in ledger.emails_by_status.items()}
    assert rows("misroutes_by_service") == {names[code]: n for code, n in ledger.misroutes_by_service.items()}
    fcr = rows("first_contact_resolution")
    assert (fcr["closed"], fcr["first contact"]) == (ledger.closed, ledger.first_contact)
    assert rows("resolved_on_target")["all"] == round(100 * ledger.closed_on_target / ledger.closed, 1)
    assert report.figure("knowledge_gaps").caption.startswith(f"{ledger.gaps} questions")
    assert rows("knowledge_gaps") and max(rows("knowledge_gaps").values()) >= 5


# ---- the outputs --------------------------------------------------------------------------------------------


@pytest.fixture
def month_report(session_factory: sessionmaker[Session]) -> reports.Report:
    with transaction(session_factory) as session:
        activity.generate_month(session, OCTOBER.start, seed=3)
        for hour in range(8, 16):  # asked often enough to be among the clusters shown
            activity.add_gap(session, activity.local(day(9), hour, 0), PRIVATE_QUESTION)
    with session_factory() as session:
        return reports.build(session, OCTOBER)


def inked(image: Image.Image) -> float:
    """Share of pixels that are not (near) white."""
    grey = image.convert("L")
    dark = sum(count for value, count in enumerate(grey.histogram()) if value < 200)
    return dark / (grey.width * grey.height)


def has_chart_colour(image: Image.Image) -> bool:
    target = tuple(int(report_render.COLOUR[i : i + 2], 16) for i in (1, 3, 5))
    colours = image.convert("RGB").getcolors(maxcolors=1_000_000) or []
    return any(sum(abs(a - b) for a, b in zip(rgb, target, strict=True)) < 30 and n > 200 for n, rgb in colours)


def assert_private_bits_absent(text: str) -> None:
    for bit in PRIVATE_BITS:
        assert bit not in text.lower(), bit


@SQLITE_ONLY
def test_the_html_report_embeds_its_charts_and_fetches_nothing(month_report: reports.Report) -> None:
    html = report_render.to_html(month_report)
    images = re.findall(r'<img src="data:image/png;base64,([^"]+)"', html)
    charted = [f for f in month_report.figures if report_render.has_chart(f)]
    assert len(images) == len(charted) >= 10
    for encoded in images:
        image = Image.open(io.BytesIO(base64.b64decode(encoded)))
        assert image.format == "PNG" and has_chart_colour(image)
    assert "<script" not in html and not re.search(r'(src|href)="(https?:)?//', html)
    assert "Regional Municipality of Northvale" in html and "October 1, 2026 to October 31, 2026" in html
    assert "Resident satisfaction" in html and "of 5 on average" in html
    assert_private_bits_absent(html)
    assert "&lt;PHONE&gt;" in html  # the question is shown, redacted


@SQLITE_ONLY
def test_the_pdf_has_a_title_page_one_chart_per_page_and_no_mostly_blank_page(
    month_report: reports.Report, tmp_path: Path
) -> None:
    pdf = pypdfium2.PdfDocument(report_render.to_pdf(month_report))
    texts = [pdf[i].get_textpage().get_text_range().replace("\r\n", " ") for i in range(len(pdf))]
    charted = [f for f in month_report.figures if report_render.has_chart(f)]
    shared = [f for f in month_report.figures if not report_render.has_chart(f)]
    assert shared and all(len(f.rows) <= report_render.SHARED_PAGE_ROWS for f in shared)
    shared_pages = -(-len(shared) // report_render.FIGURES_PER_SHARED_PAGE)
    assert len(pdf) == 1 + len(charted) + shared_pages + 1  # title, charts, chart-less figures together, articles
    assert "Regional Municipality of Northvale" in texts[0] and "October 1, 2026 to October 31, 2026" in texts[0]
    for index, figure in enumerate(charted, start=1):
        page = pdf[index].render(scale=1).to_pil()
        assert page.width < page.height  # portrait, to file with a Council report
        assert figure.title in texts[index]
        assert has_chart_colour(page) and inked(page) > 0.02, figure.key
        for label, _ in figure.rows[:3]:  # the numbers are in a table on the page
            assert label[:20] in texts[index], (figure.key, label)
    for number, figure in enumerate(shared):
        text = texts[1 + len(charted) + number // report_render.FIGURES_PER_SHARED_PAGE]
        assert figure.title in text and all(label[:20] in text for label, _ in figure.rows[:3]), figure.key
    assert "of 5 on average" in "".join(texts)
    assert_private_bits_absent("".join(texts))


@SQLITE_ONLY
def test_the_csv_is_one_tidy_table(month_report: reports.Report) -> None:
    table = list(csv.DictReader(io.StringIO(report_render.to_csv(month_report))))
    assert table and set(table[0]) == {"metric", "dimension", "value"}
    metrics = {row["metric"] for row in table}
    assert {"requests_by_channel", "assistant_containment", "first_contact_resolution", "time_to_route",
            "misroutes_by_service", "classifier_accuracy", "knowledge_gaps"} <= metrics  # fmt: skip
    by_channel = sum(float(r["value"]) for r in table if r["metric"] == "requests_by_channel")
    assert by_channel == sum(v for _, v in month_report.figure("requests_by_channel").rows)
    assert_private_bits_absent(report_render.to_csv(month_report))


# ---- the command and the console ----------------------------------------------------------------------------


@pytest.fixture
def cli_env(settings: Settings, session_factory: sessionmaker[Session]) -> Iterator[dict[str, str]]:
    get_settings.cache_clear()
    yield {"CIVICDESK_DATABASE_URL": settings.sqlalchemy_url, "CIVICDESK_ENV": "development"}
    get_settings.cache_clear()


@SQLITE_ONLY
def test_the_report_command_writes_each_format_and_refuses_bad_dates(
    cli_env: dict[str, str], session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    with transaction(session_factory) as session:
        exact_scenario(session)
    runner = CliRunner()
    for fmt in ("csv", "pdf", "html"):
        out = tmp_path / f"october.{fmt}"
        args = ["report", "--from", "2026-10-01", "--to", "2026-10-31", "--format", fmt, "--out", str(out)]
        result = runner.invoke(cli_app, args, env=cli_env)
        assert result.exit_code == 0, result.output
        assert "October 1, 2026 to October 31, 2026" in result.output
    one_day = ["report", "--from", "2026-10-05", "--to", "2026-10-05", "--out", str(tmp_path / "day.html")]
    result = runner.invoke(cli_app, one_day, env=cli_env)
    assert result.exit_code == 0 and "October 5, 2026 to October 5, 2026" in result.output, result.output
    assert "requests_by_channel,phone,3" in (tmp_path / "october.csv").read_text()
    assert (tmp_path / "october.pdf").read_bytes().startswith(b"%PDF")
    for args, message in (
        (["--from", "2026-10-32", "--to", "2026-10-31"], "'2026-10-32' is not a date"),
        (["--from", "2026-11-01", "--to", "2026-10-01"], "the last day must not be before the first day"),
        (["--from", "2026-10-01", "--to", "2026-10-31", "--format", "docx"], "is not one of: html, pdf, csv"),
    ):
        result = runner.invoke(cli_app, ["report", *args, "--out", str(tmp_path / "x")], env=cli_env)
        assert result.exit_code != 0 and message in str(result.exception), result.output


@pytest.fixture
def console(settings: Settings, session_factory: sessionmaker[Session]) -> Any:
    with transaction(session_factory) as session:
        for role in ("agent", "trainer", "supervisor", "admin"):
            auth.create_user(session, f"{role}@northvale.ca", f"Test {role.capitalize()}", PASSWORD, role)
        exact_scenario(session)
    return create_app(settings)


def signed_in(app: Any, role: str) -> TestClient:
    client = TestClient(app, base_url="https://testserver")
    page = client.get("/console/login")
    csrf = re.search(r'name="csrf_token" value="([^"]*)"', page.text)
    assert csrf
    response = client.post(
        "/console/login",
        data={"email": f"{role}@northvale.ca", "password": PASSWORD, "csrf_token": csrf.group(1)},
        follow_redirects=False,
    )
    assert response.status_code == 303
    return client


@SQLITE_ONLY
def test_the_console_page_is_for_supervisors_and_administrators(console: Any) -> None:
    query = "?start=2026-10-01&end=2026-11-01"
    anonymous = TestClient(console, base_url="https://testserver")
    page = anonymous.get("/console/reports" + query, headers={"accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/console/login")
    assert anonymous.get("/console/reports/download" + query, follow_redirects=False).status_code == 401
    for role in ("agent", "trainer"):
        client = signed_in(console, role)
        assert client.get("/console/reports" + query).status_code == 403
        assert client.get("/console/reports/download" + query + "&format=csv").status_code == 403
    for role in ("supervisor", "admin"):
        client = signed_in(console, role)
        page = client.get("/console/reports" + query)
        assert page.status_code == 200
        assert len(re.findall(r'<img src="data:image/png;base64,', page.text)) >= 10
        assert 'href="/console/reports"' in page.text and "PDF for Council" in page.text
        assert_private_bits_absent(page.text)
    pdf = client.get("/console/reports/download" + query + "&format=pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and "attachment" in pdf.headers["content-disposition"]
    extract = client.get("/console/reports/download" + query + "&format=csv")
    assert extract.status_code == 200 and "requests_by_channel,phone,3" in extract.text
    assert_private_bits_absent(extract.text)
    bad = client.get("/console/reports?start=2026-10-01&end=yesterday")
    assert bad.status_code == 400 and "&#39;yesterday&#39; is not a date like 2026-11-01" in bad.text
    assert client.get("/console/reports/download" + query + "&format=docx").status_code == 400


@SQLITE_ONLY
@pytest.mark.timeout(180)
def test_the_console_page_shows_its_charts_in_a_real_browser(console: Any, settings: Settings) -> None:
    """The charts are data: URIs, which the console's Content-Security-Policy must let through."""
    from browsing import ThreadedServer, assert_accessible, launch
    from playwright.sync_api import sync_playwright

    with ThreadedServer(settings) as server, sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(base_url=server.url, viewport={"width": 1280, "height": 900})
        page.goto("/console/reports?start=2026-10-01&end=2026-11-01")
        page.get_by_label("Email").fill("supervisor@northvale.ca")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", name="Reports", level=1).wait_for()
        widths = page.eval_on_selector_all("main img", "images => images.map(i => i.complete && i.naturalWidth)")
        assert len(widths) >= 10 and all(width and width > 300 for width in widths), widths
        assert_accessible(page)
        browser.close()


def test_periods_are_checked() -> None:
    assert reports.parse_period("2026-10-01", "2026-11-01") == OCTOBER
    assert OCTOBER.start_utc == dt.datetime(2026, 10, 1, 4, 0, tzinfo=dt.UTC)  # midnight, Eastern daylight time
    assert OCTOBER.end_utc == dt.datetime(2026, 11, 1, 4, 0, tzinfo=dt.UTC)
    for start, end in (("2026-10-01", "2026-10-01"), ("2025-01-01", "2026-10-01"), ("October", "2026-11-01")):
        with pytest.raises(InvalidInput):
            reports.parse_period(start, end)


def test_questions_with_no_words_left_are_grouped_for_review() -> None:
    """A question that is nothing but redacted details or stop words cannot be compared with the others."""
    clusters = reports.cluster_gaps(["<PHONE>", "yard waste", "yard waste pickup", "<PHONE> <EMAIL>", "is it"])
    assert [(c.size, c.title) for c in clusters] == [(3, "Questions to review"), (2, "Yard waste: pickup")]
    assert reports.cluster_gaps([]) == []
    assert [c.title for c in reports.cluster_gaps(["the", "and"])] == ["Questions to review"]
    assert [c.title for c in reports.cluster_gaps(["dog licence"])] == ["Dog licence"]


def test_a_chart_of_zeros_is_said_in_words_not_drawn() -> None:
    zeros = reports.Figure("first_contact_resolution", "First-contact resolution", "caption", "measure", "requests",
                           [("first contact", 0.0), ("later contact", 0.0), ("first contact %", 0.0)])  # fmt: skip
    counted = reports.Figure("requests_by_channel", "Requests by channel", "caption", "channel", "requests",
                             [("phone", 3.0), ("email", 0.0)])  # fmt: skip
    assert not report_render.has_chart(zeros) and report_render.nothing_to_chart(zeros)
    assert report_render.has_chart(counted) and not report_render.nothing_to_chart(counted)
    report = reports.Report(OCTOBER, dt.datetime(2026, 11, 2, tzinfo=dt.UTC), [zeros, counted], [])
    html = report_render.to_html(report)
    first, second = html.split('id="requests_by_channel"')
    assert report_render.NOTHING_TO_CHART in first and "<img" not in first.split('id="first_contact_resolution"')[1]
    assert "<img" in second and report_render.NOTHING_TO_CHART not in second
