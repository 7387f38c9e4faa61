"""The shipped seed data validates and is internally consistent; broken copies fail with a readable SeedError."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pytest
import yaml

from civicdesk.seed_schema import (
    REQUIRED_SERVICE_CODES,
    SEED_DIR,
    BusinessHours,
    SeedData,
    SeedError,
    load_articles,
    load_seed,
    toronto_utc_offset,
)

# Copied from DESIGN.md ("Service catalogue codes that must exist"), kept separate from the schema's constant
# so that editing the constant cannot make this test pass.
DESIGN_SERVICE_CODES = """
road_repair, sidewalk_repair, streetlight_out, traffic_signs_signals, road_obstruction, illegal_dumping, graffiti,
litter_street_cleaning, missed_collection, bin_repair_replacement, water_main_break, sewer_backup,
drainage_flooding, spill_hazard, tree_maintenance, parks_maintenance, abandoned_vehicle, parking_enforcement,
noise_complaint, animal_services, snow_ice, property_standards, public_health, transit, property_tax_billing,
general_inquiry
"""
ONTARIO_POSTAL_CODE = re.compile(r"\b[KLMNP]\d[ABCEGHJ-NPRSTV-Z] \d[ABCEGHJ-NPRSTV-Z]\d\b")
ANY_POSTAL_CODE = re.compile(r"\b[A-Z]\d[A-Z] ?\d[A-Z]\d\b")
FILE_PREFIX = re.compile(r"^(?:[a-z]+\.yaml|kb/(?:[a-z0-9-]+\.md)?): ")  # every SeedError line names its file


@pytest.fixture(scope="module")
def seed() -> SeedData:
    return load_seed()


# --------------------------------------------------------------------------------------------------------- shipped


def test_shipped_seed_has_expected_volume(seed: SeedData) -> None:
    assert 14 <= len(seed.departments) <= 20
    assert {"on_call", "service_first"} <= {d.code for d in seed.departments}
    assert len(seed.articles) >= 64
    assert 4 <= len(seed.appointments.locations) <= 6
    assert 5 <= len(seed.appointments.types) <= 8
    assert 8 <= len(seed.events) <= 12
    assert 12 <= len(seed.forms) <= 20
    assert 20 <= len(seed.referrals) <= 30


def test_every_design_service_code_exists(seed: SeedData) -> None:
    design_codes = {code.strip() for code in DESIGN_SERVICE_CODES.split(",")}
    assert len(design_codes) == 26
    assert design_codes == set(REQUIRED_SERVICE_CODES)
    assert design_codes <= {service.code for service in seed.services}


def test_services_ask_questions_and_say_what_to_do_in_an_emergency(seed: SeedData) -> None:
    for service in seed.services:
        assert service.attributes, service.code
        if service.can_be_emergency:
            assert service.emergency_instruction is not None
            assert "911" in service.emergency_instruction or "905-555-0111" in service.emergency_instruction
    by_code = {service.code: service for service in seed.services}
    missed = {a.code: a for a in by_code["missed_collection"].attributes}
    assert {v.key for v in missed["stream"].values} >= {"garbage", "recycling", "green_bin", "yard_waste"}
    assert "7:00 a.m." in missed["out_by_7am"].description
    main_break = {a.code for a in by_code["water_main_break"].attributes}
    assert {"water_on_road", "sinkhole"} <= main_break


def test_knowledgebase_is_big_enough_and_answerable(seed: SeedData) -> None:
    published = [article for article in seed.articles if article.status == "published"]
    assert len(published) >= 60
    assert any(article.status == "draft" for article in seed.articles)
    for article in seed.articles:
        assert len(article.example_questions) >= 4, article.slug
        assert len(set(article.example_questions)) == len(article.example_questions), article.slug
        assert article.review_date.year == 2027, article.slug
        assert article.url.startswith("https://www.northvale.ca/"), article.slug


def test_knowledgebase_covers_the_required_topics(seed: SeedData) -> None:
    slugs = {article.slug for article in seed.articles}
    for slug in (
        "garbage-collection-day", "blue-box-recycling", "green-bin-organics", "bulky-item-pickup",
        "household-hazardous-waste-depot", "water-main-break", "boil-water-advisory", "lead-pipes",
        "pothole-reporting", "windrows-snow-at-driveway", "flu-covid-vaccine-clinics", "rabies-animal-bites",
        "when-to-call-911", "ontario-works", "child-care-fee-reduction", "transit-fares",
        "property-tax-due-dates", "dispute-parking-ticket", "dog-licence", "noise-bylaw", "building-permits",
        "delegations-to-council", "language-interpretation", "freedom-of-information-request",
    ):  # fmt: skip
        assert slug in slugs


def test_references_resolve(seed: SeedData) -> None:
    departments = {d.code for d in seed.departments}
    services = {s.code for s in seed.services}
    locations = {loc.code for loc in seed.appointments.locations}
    assert {s.department for s in seed.services} <= departments
    assert {a.department for a in seed.articles} <= departments
    assert {code for a in seed.articles for code in a.related_services} <= services
    assert {t.department for t in seed.appointments.types} <= departments
    assert {code for t in seed.appointments.types for code in t.locations} <= locations
    assert {e.department for e in seed.events} <= departments
    assert {f.department for f in seed.forms} <= departments
    assert {s.department for s in seed.oncall} <= departments


def test_postal_codes_are_ontario_codes(seed: SeedData) -> None:
    for location in seed.appointments.locations:
        assert ONTARIO_POSTAL_CODE.fullmatch(location.postal_code), location.code
    for event in seed.events:
        found = ANY_POSTAL_CODE.findall(event.address)
        assert len(found) == 1, event.code
        assert ONTARIO_POSTAL_CODE.fullmatch(found[0]), event.code


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _expected_closures(year: int, easter: dt.date) -> set[dt.date]:
    """The Region's closure days, derived from the rules rather than copied from the file."""
    monday = 0
    fixed = {dt.date(year, 1, 1), dt.date(year, 7, 1)}
    days = {
        _nth_weekday(year, 2, monday, 3),  # Family Day
        easter - dt.timedelta(days=2),  # Good Friday
        easter + dt.timedelta(days=1),  # Easter Monday
        dt.date(year, 5, 25) - dt.timedelta(days=dt.date(year, 5, 25).weekday() or 7),  # Victoria Day
        _nth_weekday(year, 8, monday, 1),  # Civic Holiday
        _nth_weekday(year, 9, monday, 1),  # Labour Day
        _nth_weekday(year, 10, monday, 2),  # Thanksgiving
    }
    for day in fixed:  # New Year's Day and Canada Day move to Monday when on a weekend
        days.add(day + dt.timedelta(days=(7 - day.weekday()) % 7) if day.weekday() >= 5 else day)
    for calendar_day in (dt.date(year, 12, 25), dt.date(year, 12, 26)):
        observed = calendar_day
        while observed.weekday() >= 5 or observed in days:
            observed += dt.timedelta(days=1)
        days.add(observed)
    return days


def test_holidays_follow_the_rules(seed: SeedData) -> None:
    real_easter = {2026: dt.date(2026, 4, 5), 2027: dt.date(2027, 3, 28)}
    closures = {holiday.date for holiday in seed.holidays}
    expected = _expected_closures(2026, real_easter[2026]) | _expected_closures(2027, real_easter[2027])
    assert closures == expected
    by_name = {(h.date.year, h.name): h for h in seed.holidays}
    assert by_name[(2026, "Family Day")].date == dt.date(2026, 2, 16)
    assert by_name[(2027, "Civic Holiday")].date == dt.date(2027, 8, 2)
    assert by_name[(2026, "Boxing Day (observed)")].falls_on == dt.date(2026, 12, 26)
    assert by_name[(2027, "Boxing Day (observed)")].date == dt.date(2027, 12, 28)
    assert all(h.date.weekday() < 5 for h in seed.holidays)


def test_events_are_in_the_season_and_in_toronto_time(seed: SeedData) -> None:
    for event in seed.events:
        assert dt.date(2026, 12, 1) <= event.starts_at.date() <= dt.date(2027, 6, 30), event.code
        assert event.starts_at < event.ends_at
        assert event.starts_at.utcoffset() == toronto_utc_offset(event.starts_at)


@pytest.mark.parametrize("department", ["transportation", "water", "public_health", "bylaw"])
def test_on_call_roster_covers_the_winter_without_gaps(seed: SeedData, department: str) -> None:
    shifts = sorted((s for s in seed.oncall if s.department == department), key=lambda s: s.starts_at)
    assert shifts, department
    assert shifts[0].starts_at.date() <= dt.date(2026, 11, 23)
    assert shifts[-1].ends_at.date() >= dt.date(2027, 3, 1)
    for before, after in zip(shifts, shifts[1:], strict=False):
        assert before.ends_at == after.starts_at, (before.name, after.name)
    assert len({s.name for s in shifts}) >= 3  # a rotation, not one person all winter


def test_toronto_offset_matches_the_tz_database() -> None:
    zoneinfo = pytest.importorskip("zoneinfo")
    try:
        toronto = zoneinfo.ZoneInfo("America/Toronto")
    except zoneinfo.ZoneInfoNotFoundError:
        pytest.skip("no tz database on this host")
    moment = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    while moment.year < 2028:
        assert toronto_utc_offset(moment) == moment.astimezone(toronto).utcoffset(), moment
        moment += dt.timedelta(hours=5)


def test_business_hours_parse_and_round_trip(seed: SeedData) -> None:
    service_first = next(d for d in seed.departments if d.code == "service_first")
    monday = service_first.business_hours.for_weekday(0)
    assert monday is not None and monday.contains(dt.time(8, 0)) and not monday.contains(dt.time(18, 0))
    assert service_first.business_hours.for_weekday(6) is None
    on_call = next(d for d in seed.departments if d.code == "on_call")
    sunday = on_call.business_hours.for_weekday(6)
    assert sunday is not None and sunday.closes is None and sunday.contains(dt.time(23, 59))
    as_json = on_call.business_hours.as_json()
    assert as_json["sun"] == "00:00-24:00"
    assert BusinessHours.model_validate(as_json) == on_call.business_hours


# --------------------------------------------------------------------------------------------------------- broken


@pytest.fixture
def seed_copy(tmp_path: Path) -> Path:
    target = tmp_path / "seed"
    shutil.copytree(SEED_DIR, target)
    return target


def edit(directory: Path, file_name: str, old: str, new: str) -> None:
    """Replace one exact occurrence, so a test cannot silently break nothing."""
    path = directory / file_name
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {file_name}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def seed_error(directory: Path) -> str:
    with pytest.raises(SeedError) as raised:
        load_seed(directory)
    return str(raised.value)


@pytest.mark.parametrize(
    ("file_name", "old", "new", "expected"),
    [
        (
            "services.yaml",
            "- code: road_repair\n  name: Pothole or road damage\n  description: Potholes, broken or sunken "
            "pavement, and damaged curbs on regional and local roads.\n  group: Roads and Traffic\n"
            "  department: transportation",
            "- code: road_repair\n  name: Pothole or road damage\n  description: Potholes, broken or sunken "
            "pavement, and damaged curbs on regional and local roads.\n  group: Roads and Traffic\n"
            "  department: roads",
            "services.yaml: service 'road_repair' names unknown department 'roads'",
        ),
        (
            "services.yaml",
            "- code: water_main_break\n",
            "- code: water_main_leak\n",
            "services.yaml: required service codes are missing: water_main_break",
        ),
        (
            "services.yaml",
            "  targets: {routine: 8, urgent: 4, emergency: 1}\n  can_be_emergency: true\n"
            "  emergency_instruction: >-\n    Call 311 (905-555-0100) now",
            "  targets: {routine: 8, urgent: 4, emergency: null}\n  can_be_emergency: true\n"
            "  emergency_instruction: >-\n    Call 311 (905-555-0100) now",
            "services.yaml: service 'water_main_break': can_be_emergency is true, so targets.emergency is required",
        ),
        (
            "departments.yaml",
            "- code: parks_forestry\n",
            "- code: bylaw\n",
            "departments.yaml: department code 'bylaw' is used more than once",
        ),
        (
            "departments.yaml",
            '  phone: "905-555-0121"\n',
            '  phone: "905-321-0121"\n',
            "departments.yaml: department 'waste': phone: String should match pattern",
        ),
        (
            "departments.yaml",
            "  email: waste@northvale.ca\n",
            "  email: waste@northvale.ca\n  emial: waste@northvale.ca\n",
            "departments.yaml: department 'waste': emial: Extra inputs are not permitted",
        ),
        (
            "holidays.yaml",
            "- {date: 2026-12-28, name: Boxing Day (observed), falls_on: 2026-12-26}",
            "- {date: 2026-12-26, name: Boxing Day}",
            "holidays.yaml: holiday 2026-12-26: 2026-12-26 is a Saturday",
        ),
        (
            "appointments.yaml",
            "    locations: [northvale_hq, harlow_falls_office]\n",
            "    locations: [northvale_hq, harlow_falls_clinic]\n",
            "appointments.yaml: appointment type 'seniors_dental' names unknown location 'harlow_falls_clinic'",
        ),
        (
            "appointments.yaml",
            'schedule: {weekdays: [wed, fri], start: "09:00", end: "16:00"',
            'schedule: {weekdays: [wed, fri], start: "09:00", end: 16:00',
            "appointments.yaml: appointment type 'travel_health': schedule.end: write times as quoted \"HH:MM\"",
        ),
        (
            "appointments.yaml",
            "    postal_code: L4P 3S6\n",
            "    postal_code: D4P 3S6\n",
            "appointments.yaml: location 'port_sable_clinic': postal_code: String should match pattern",
        ),
        (
            "events.yaml",
            "  starts_at: 2027-04-14T18:00:00-04:00\n",
            "  starts_at: 2027-04-14T18:00:00-05:00\n",
            "events.yaml: event 'cycling_network_workshop': starts_at: 2027-04-14T18:00:00-05:00 has the wrong "
            "UTC offset",
        ),
        (
            "forms.yaml",
            "  languages: [en, fr, pa, zh, ar, es]\n",
            "  languages: [fr, pa, zh, ar, es]\n",
            "forms.yaml: form 'waste_collection_calendar': languages: every item is available in English",
        ),
        (
            "referrals.yaml",
            "  website: https://www.mpac.ca\n",
            "",
            "referrals.yaml: referral 'mpac': give a phone number or a website",
        ),
        (
            "oncall.yaml",
            'name: "Priya Raman", phone: "289-555-0102", starts_at: 2026-11-30T08:30:00-05:00',
            'name: "Priya Raman", phone: "289-555-0102", starts_at: 2026-11-29T08:30:00-05:00',
            "oncall.yaml: transportation Roads supervisor: Marc Bélanger's shift ending",
        ),
        (
            "oncall.yaml",
            '- {department: bylaw, role: By-law officer on call, name: "Daniel Kowalski", phone: "289-555-0131", '
            "starts_at: 2026-11-23T08:30:00-05:00",
            '- {department: by_law, role: By-law officer on call, name: "Daniel Kowalski", phone: "289-555-0131", '
            "starts_at: 2026-11-23T08:30:00-05:00",
            "oncall.yaml: shift of Daniel Kowalski starting 2026-11-23T08:30:00-05:00 names unknown department "
            "'by_law'",
        ),
    ],
    ids=[
        "unknown-department",
        "required-code-missing",
        "emergency-without-target",
        "duplicate-department",
        "real-looking-phone",
        "misspelt-field",
        "holiday-on-saturday",
        "unknown-location",
        "unquoted-time",
        "postal-code-with-d",
        "wrong-dst-offset",
        "form-without-english",
        "referral-unreachable",
        "overlapping-shifts",
        "shift-unknown-department",
    ],  # fmt: skip
)
def test_broken_file_gives_a_seed_error_naming_it(
    seed_copy: Path, file_name: str, old: str, new: str, expected: str
) -> None:
    edit(seed_copy, file_name, old, new)
    message = seed_error(seed_copy)
    assert expected in message
    assert all(FILE_PREFIX.match(line) for line in message.splitlines()), message


def test_article_with_too_few_questions(seed_copy: Path) -> None:
    edit(
        seed_copy,
        "kb/dog-licence.md",
        "  - Do cats need a licence in Northvale?\n  - I lost my pet's licence tag, can I get a new one?\n",
        "",
    )
    assert "kb/dog-licence.md: example_questions: List should have at least 4 items" in seed_error(seed_copy)


def test_article_slug_must_match_file_name(seed_copy: Path) -> None:
    (seed_copy / "kb" / "dog-licence.md").rename(seed_copy / "kb" / "dog-license.md")
    message = seed_error(seed_copy)
    assert "kb/dog-license.md: slug 'dog-licence' must match the file name 'dog-license'" in message


def test_article_without_front_matter(seed_copy: Path) -> None:
    path = seed_copy / "kb" / "noise-bylaw.md"
    path.write_text(path.read_text(encoding="utf-8").removeprefix("---\n"), encoding="utf-8")
    assert "kb/noise-bylaw.md: the file must start with a '---' line" in seed_error(seed_copy)


def test_article_body_too_short(seed_copy: Path) -> None:
    path = seed_copy / "kb" / "noise-bylaw.md"
    text = path.read_text(encoding="utf-8")
    front_matter_end = text.index("\n---\n", 4) + 5
    path.write_text(text[:front_matter_end] + "Quiet hours are 11 p.m. to 7 a.m.\n", encoding="utf-8")
    assert "kb/noise-bylaw.md: body: the body has 8 words; write 120 to 350" in seed_error(seed_copy)


def test_article_naming_unknown_department(seed_copy: Path) -> None:
    edit(seed_copy, "kb/noise-bylaw.md", "department: bylaw\n", "department: by_law\n")
    assert "kb/noise-bylaw.md: article 'noise-bylaw' names unknown department 'by_law'" in seed_error(seed_copy)


def test_invalid_yaml_reports_the_line(seed_copy: Path) -> None:
    edit(seed_copy, "forms.yaml", "- code: green_bin_guide\n", "- code: [green_bin_guide\n")
    assert re.search(r"forms\.yaml: not valid YAML: line \d+, column \d+", seed_error(seed_copy))


def test_missing_and_empty_files(seed_copy: Path) -> None:
    (seed_copy / "referrals.yaml").unlink()
    (seed_copy / "events.yaml").write_text("# nothing yet\n", encoding="utf-8")
    message = seed_error(seed_copy)
    assert "referrals.yaml: file not found" in message
    assert "events.yaml: the file is empty" in message


def test_all_problems_are_reported_at_once(seed_copy: Path) -> None:
    edit(seed_copy, "forms.yaml", "  max_copies: 20\n", "  max_copies: 500\n")
    edit(seed_copy, "events.yaml", "  capacity: 400\n", "  capacity: 0\n")
    lines = seed_error(seed_copy).splitlines()
    assert any(line.startswith("forms.yaml: form 'service_first_accessibility_card': max_copies") for line in lines)
    assert any(line.startswith("events.yaml: event 'emergency_preparedness_open_house': capacity") for line in lines)


# --------------------------------------------------------------------------------------------------------- import


def test_load_articles_reads_an_export_directory(tmp_path: Path, seed: SeedData) -> None:
    """The knowledgebase export writes front matter with yaml.safe_dump; reading it back gives the same articles."""
    for article in seed.articles:
        front = article.model_dump(mode="json", exclude={"body", "related_services"})
        header = yaml.safe_dump(front, sort_keys=False, allow_unicode=True, width=110)
        (tmp_path / f"{article.slug}.md").write_text(f"---\n{header}---\n\n{article.body}\n", encoding="utf-8")
    loaded = {article.slug: article for article in load_articles(tmp_path)}
    assert loaded == {a.slug: a.model_copy(update={"related_services": []}) for a in seed.articles}


def test_load_articles_names_each_bad_file(tmp_path: Path) -> None:
    for name in ("noise-bylaw.md", "dog-licence.md", "lead-pipes.md"):
        shutil.copy(SEED_DIR / "kb" / name, tmp_path / name)
    edit(tmp_path, "noise-bylaw.md", "status: published\n", "status: live\n")
    edit(
        tmp_path,
        "lead-pipes.md",
        "url: https://www.northvale.ca/water/lead\n",
        "url: https://www.northvale.ca/animals/licences\n",
    )
    with pytest.raises(SeedError) as raised:
        load_articles(tmp_path)
    lines = str(raised.value).splitlines()
    assert lines[0].startswith("noise-bylaw.md: status: Input should be 'published' or 'draft'")
    duplicate_url = "url 'https://www.northvale.ca/animals/licences' is used by more than one article"
    assert lines[1] == f"dog-licence.md, lead-pipes.md: {duplicate_url}"
