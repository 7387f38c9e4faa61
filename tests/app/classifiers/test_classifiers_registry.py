"""The triage model registry and the retraining loop: the promotion rule on its edges, retrain / list / rollback
from the command line (promoted, refused for recall, refused for macro-F1), `civicdesk train` on a fresh models
folder, the ingester's loader following promotions and rollbacks, the chat NLU export, and the trainer's console
page (who may open it, retrain, promote and roll back, download).

Training stays short: every model here is trained on the 48-row fixture of test_classifiers.py and scored on its
8-row evaluation file (under a second per version), never on the shipped 3,000 emails.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from helpers import CLASSIFIER_EVAL as EVAL
from helpers import CLASSIFIER_TRAIN as TRAIN
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from civicdesk.app import create_app
from civicdesk.chat import service as chat
from civicdesk.cli import app as civicdesk_app
from civicdesk.db import transaction
from civicdesk.models import AuditEntry, TriageCorrection
from civicdesk.settings import Settings, get_settings
from civicdesk.staff import auth
from civicdesk.triage import chat_nlu, retraining, training
from classifiers.data import file_sha256
from classifiers.registry import (
    ACTIVE_FILE,
    CORRECTIONS_FILE,
    MIN_EMERGENCY_RECALL,
    MIN_PAGING_PRECISION,
    Registry,
    RegistryBusy,
    promotion_decision,
)
from classifiers.store import META_FILE
from email_ingest.service import TriageLoader

PASSWORD = "correct horse battery staple"
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

runner = CliRunner()


def scores(
    service_f1: float | None, recall: float | None, paging_precision: float | None = 0.95
) -> dict[str, dict[str, Any]]:
    """evaluate()'s shape, with only what the rule reads."""
    metrics: dict[str, dict[str, Any]] = {}
    if service_f1 is not None:
        metrics["service_code"] = {"macro_f1": service_f1}
    metrics["urgency"] = {"macro_f1": 0.9, "emergency_recall": recall, "paging_precision": paging_precision}
    return metrics


# ---- the promotion rule -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("active", "candidate"), [(0.85, 0.84), (0.8, 0.79), (0.7123, 0.7023), (0.3, 0.29)])
def test_a_macro_f1_drop_of_exactly_one_hundredth_is_allowed(active: float, candidate: float) -> None:
    decision = promotion_decision(scores(active, 0.99), scores(candidate, 0.99))
    assert decision.promote and decision.reasons == ()


def test_a_macro_f1_drop_beyond_one_hundredth_is_refused_with_both_figures() -> None:
    decision = promotion_decision(scores(0.85, 0.99), scores(0.8399, 0.99))
    assert not decision.promote
    assert decision.reasons == (
        "service_code macro-F1 0.8399 against 0.8500 for the active version (-0.0101; at most -0.01 is allowed)",
    )


def test_emergency_recall_of_exactly_the_target_is_enough_and_just_below_is_not() -> None:
    assert MIN_EMERGENCY_RECALL == 0.98
    assert promotion_decision(scores(0.8, 0.99), scores(0.8, 0.98)).promote
    refused = promotion_decision(scores(0.8, 0.99), scores(0.9, 0.9799))
    assert not refused.promote
    assert refused.reasons == ("urgency emergency recall 0.9799 is below the target 0.98 (active version: 0.9900)",)


def test_paging_precision_below_the_target_is_refused_and_a_model_that_pages_nobody_is_not() -> None:
    assert MIN_PAGING_PRECISION == 0.90
    assert promotion_decision(scores(0.8, 0.99), scores(0.8, 0.99, paging_precision=0.90)).promote
    refused = promotion_decision(scores(0.8, 0.99, 0.95), scores(0.8, 0.99, paging_precision=0.8999))
    assert not refused.promote
    assert refused.reasons == ("paging precision 0.8999 is below the target 0.90 (active version: 0.9500)",)
    # no page at all on the test set: nothing to be wrong about (the recall check still applies)
    assert promotion_decision(scores(0.8, 0.99), scores(0.8, 0.99, paging_precision=None)).promote
    first = promotion_decision(None, scores(0.8, 0.99, paging_precision=0.5))
    assert first.promote and first.reasons == ("first version; paging precision 0.5000 is below the target 0.90",)


def test_both_failures_are_reported_together() -> None:
    decision = promotion_decision(scores(0.9, 0.95), scores(0.7, 0.93))
    assert not decision.promote and len(decision.reasons) == 2


def test_a_better_model_is_still_refused_below_the_recall_target() -> None:
    # today's shipped model sits near 0.93: retraining must not promote until recall reaches the target
    decision = promotion_decision(scores(0.70, 0.93), scores(0.75, 0.94))
    assert not decision.promote and "0.9400 is below the target 0.98" in decision.reasons[0]


def test_without_an_active_version_the_first_model_is_promoted_and_a_shortfall_reported() -> None:
    assert promotion_decision(None, scores(0.5, 0.99)) == promotion_decision(None, scores(0.5, 0.98))
    assert promotion_decision(None, scores(0.5, 0.99)).reasons == ()
    short = promotion_decision(None, scores(0.5, 0.93))
    assert short.promote
    assert short.reasons == ("first version; urgency emergency recall 0.9300 is below the target 0.98",)


def test_a_candidate_that_cannot_be_checked_is_refused() -> None:
    no_service = promotion_decision(scores(0.8, 0.99), scores(None, 0.99))
    assert not no_service.promote and "no service_code scores" in no_service.reasons[0]
    no_emergencies = promotion_decision(scores(0.8, 0.99), scores(0.8, None))
    assert not no_emergencies.promote and "recall n/a is below" in no_emergencies.reasons[0]


def test_an_active_version_without_service_scores_cannot_block_the_candidate() -> None:
    assert promotion_decision(scores(None, 0.99), scores(0.6, 0.99)).promote


# ---- retrain, list and rollback from the command line -----------------------------------------------------


@pytest.fixture
def models_root(tmp_path: Path) -> Path:
    return tmp_path / "models"


@pytest.fixture
def cli_env(settings: Settings, models_root: Path, engine: Any) -> Iterator[dict[str, str]]:
    """The environment of `civicdesk classifiers ...`: a migrated database and a models folder of the test's own."""
    get_settings.cache_clear()
    yield {
        "CIVICDESK_DATABASE_URL": settings.sqlalchemy_url,
        "CIVICDESK_MODELS_DIR": str(models_root),
        "CIVICDESK_ENV": "development",
    }
    get_settings.cache_clear()


def cli(env: dict[str, str], *args: str) -> Any:
    return runner.invoke(civicdesk_app, ["classifiers", *args], env=env)


def retrain_json(env: dict[str, str], *extra: str, expect: int = 0) -> dict[str, Any]:
    result = cli(env, "retrain", "--data", str(TRAIN), "--test", str(EVAL), "--json", *extra)
    assert result.exit_code == expect, result.output
    summary: dict[str, Any] = json.loads(result.stdout)
    return summary


def add_corrections(factory: sessionmaker[Session], *rows: dict[str, Any]) -> None:
    with transaction(factory) as session:
        for row in rows:
            session.add(TriageCorrection(corrected_by="priya.raman@northvale.ca", **row))


def test_retrain_adds_the_corrections_and_versions_can_be_listed_and_rolled_back(
    cli_env: dict[str, str], models_root: Path, session_factory: sessionmaker[Session]
) -> None:
    first = retrain_json(cli_env)
    assert first["promoted"] and first["active_before"] is None and first["corrections"] == 0
    assert first["candidate"]["emergency_recall"] == 1.0

    eval_text = json.loads(EVAL.read_text().splitlines()[0])
    add_corrections(
        session_factory,
        {
            "subject": "Pothole outside 14 Birch Lane",
            "body": "Deep hole, my tire went in. Call me at 905-555-0143.",
            "service_code": "road_repair",
        },
        {"subject": "", "body": "Water is bubbling up through the asphalt on Mill St", "urgency": "urgent"},
        {"subject": "Thanks", "body": "", "service_code": None, "kind": None, "urgency": None},  # no label: skipped
        {**{k: eval_text[k] for k in ("subject", "body", "service_code")}},  # a test email: never trained on
    )
    second = retrain_json(cli_env)
    assert second["promoted"] and second["active_before"] == first["version"] and second["corrections"] == 2
    assert second["active"] == first["candidate"]  # the active version was scored on the same test file
    version_dir = models_root / "triage" / "versions" / second["version"]
    exported = [json.loads(line) for line in (version_dir / CORRECTIONS_FILE).read_text().splitlines()]
    assert exported == [  # personal information redacted from the export
        {
            "subject": "Pothole outside <ADDRESS>",
            "body": "Deep hole, my tire went in. Call me at <PHONE>.",
            "service_code": "road_repair",
        },
        {"subject": "", "body": "Water is bubbling up through the asphalt on Mill St", "urgency": "urgent"},
    ]
    meta = json.loads((version_dir / META_FILE).read_text())
    assert [Path(f["path"]).name for f in meta["data"]["files"]] == ["train.jsonl", CORRECTIONS_FILE]
    assert meta["data"]["rows_per_head"] == {"service_code": 49, "kind": 48, "urgency": 49}
    assert first["version"] < second["version"]  # ids sort by time

    listed = json.loads(cli(cli_env, "list", "--json").stdout)
    assert [(v["version"], v["active"], v["corrections"]) for v in listed] == [
        (first["version"], False, 0),
        (second["version"], True, 2),
    ]
    assert listed[0]["rows"] == 48 and listed[1]["rows"] == 50
    assert listed[1]["service_code_macro_f1"] == second["candidate"]["service_code_macro_f1"]
    table = cli(cli_env, "list")
    assert table.exit_code == 0
    active_line = next(line for line in table.stdout.splitlines() if second["version"] in line)
    assert active_line.lstrip().startswith("*") and "1.000" in active_line

    back = cli(cli_env, "rollback", first["version"])
    assert back.exit_code == 0 and f"version {first['version']} is now active (was {second['version']})" in back.stdout
    assert Registry(models_root / "triage").active_id() == first["version"]
    assert "already active" in cli(cli_env, "rollback", first["version"]).stdout

    unknown = cli(cli_env, "rollback", "2026-01-01T000000-abcdef")
    assert unknown.exit_code == 2
    assert "error: no triage model version '2026-01-01T000000-abcdef'; known versions: " in unknown.output
    assert "Traceback" not in unknown.output
    assert Registry(models_root / "triage").active_id() == first["version"]


def test_retrain_is_refused_when_emergency_recall_is_short_and_the_active_version_stays(
    cli_env: dict[str, str], models_root: Path, tmp_path: Path
) -> None:
    # Emergencies worded like nothing the model or the rules know: the same shortfall today's shipped model has.
    quiet_emergencies = [
        {
            "subject": "Please come",
            "body": f"Something is wrong at number {n} Orchard Way, come now",
            "urgency": "emergency",
        }
        for n in range(1, 5)
    ]
    test_file = tmp_path / "test.jsonl"
    test_file.write_text(EVAL.read_text() + "".join(json.dumps(row) + "\n" for row in quiet_emergencies))

    first = cli(cli_env, "retrain", "--data", str(TRAIN), "--test", str(test_file))
    assert first.exit_code == 0, first.output
    assert "promoted: version" in first.stdout
    assert "first version; urgency emergency recall 0.2000 is below the target 0.98" in first.stdout
    active = Registry(models_root / "triage").active_id()

    refused = cli(cli_env, "retrain", "--data", str(TRAIN), "--test", str(test_file))
    assert refused.exit_code == retraining_refused_exit(), refused.output
    assert f"not promoted; version {active} stays active, because:" in refused.stdout
    assert "urgency emergency recall 0.2000 is below the target 0.98 (active version: 0.2000)" in refused.stdout
    figures = next(line for line in refused.stdout.splitlines() if "emergency recall" in line and "below" not in line)
    assert figures.split()[-2:] == ["0.200", "0.200"]  # both versions' figures
    registry = Registry(models_root / "triage")
    assert registry.active_id() == active
    assert len(registry.versions()) == 2  # the refused version is kept for a trainer to look at, not active
    assert registry.versions()[1].run == {
        "active_before": active,
        "corrections": 0,
        "promoted": False,
        "reasons": ["urgency emergency recall 0.2000 is below the target 0.98 (active version: 0.2000)"],
        "started_by": registry.versions()[1].run["started_by"],  # type: ignore[index]
        "test_file": str(test_file),
    }

    # Compared on another test file, the active version is scored again on that one before the rule is applied.
    on_eval = retrain_json(cli_env)
    assert on_eval["promoted"] and on_eval["active_before"] == active
    assert on_eval["active"]["emergency_recall"] == on_eval["candidate"]["emergency_recall"] == 1.0
    assert registry.get(active).evaluated_on(file_sha256(EVAL)) is not None


def retraining_refused_exit() -> int:
    from civicdesk.cli.classifiers import REFUSED_EXIT

    assert REFUSED_EXIT not in (0, 1, 2)  # 1 is an unexpected crash, 2 a user error
    return REFUSED_EXIT


def test_retrain_is_refused_when_service_macro_f1_drops(
    cli_env: dict[str, str], models_root: Path, tmp_path: Path
) -> None:
    retrain_json(cli_env)
    # Training data where water main breaks were filed as road repairs: the new model cannot route them.
    rows = [json.loads(line) for line in TRAIN.read_text().splitlines()]
    worse = tmp_path / "train_worse.jsonl"
    worse.write_text(
        "".join(
            json.dumps(
                {
                    **row,
                    "service_code": "road_repair" if row["service_code"] == "water_main_break" else row["service_code"],
                }
            )
            + "\n"
            for row in rows
        )
    )
    before = Registry(models_root / "triage").active_id()
    result = cli(cli_env, "retrain", "--data", str(worse), "--test", str(EVAL), "--json")
    assert result.exit_code == retraining_refused_exit(), result.output
    summary = json.loads(result.stdout)
    assert not summary["promoted"] and summary["active_after"] == before
    assert summary["candidate"]["service_code_macro_f1"] < summary["active"]["service_code_macro_f1"] - 0.01
    assert len(summary["reasons"]) == 1 and summary["reasons"][0].startswith("service_code macro-F1 ")
    assert Registry(models_root / "triage").active_id() == before


def test_bad_input_to_retrain_is_one_line_and_leaves_no_version(cli_env: dict[str, str], models_root: Path) -> None:
    missing = cli(cli_env, "retrain", "--data", str(TRAIN), "--test", "/nonexistent/test.jsonl")
    assert missing.exit_code == 2 and "error: /nonexistent/test.jsonl: file not found" in missing.output
    one_label = models_root.parent / "train_one.jsonl"
    one_label.write_text('{"text": "a pothole", "service_code": "road_repair"}\n' * 3)
    bad = cli(cli_env, "retrain", "--data", str(one_label), "--test", str(EVAL))
    assert bad.exit_code == 2 and "only one label (road_repair)" in bad.output and "Traceback" not in bad.output
    assert Registry(models_root / "triage").versions() == []
    status = retraining.read_status(models_root / "triage")
    assert status is not None and status["state"] == "failed" and "only one label" in status["error"]


def test_only_one_retrain_runs_at_a_time(models_root: Path) -> None:
    root = models_root / "triage"
    registry = Registry(root)
    unfinished = root / "versions" / "2026-11-23T100000-abcdef"
    unfinished.mkdir(parents=True)  # a training that was killed
    with registry.training():
        assert registry.training_now() and not unfinished.exists()
        with pytest.raises(RegistryBusy, match="already being trained"), registry.training():
            pass
    assert not registry.training_now()


# ---- civicdesk train on a fresh checkout, and the ingester's loader --------------------------------------


@pytest.fixture
def small_shipped_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """nlu_data/email stand-in with the small fixture as its train*.jsonl and test.jsonl."""
    folder = tmp_path / "email"
    folder.mkdir()
    shutil.copyfile(TRAIN, folder / "train.jsonl")
    shutil.copyfile(EVAL, folder / "test.jsonl")
    monkeypatch.setattr(training, "EMAIL_DIR", folder)
    return folder


@SQLITE_ONLY
def test_civicdesk_train_creates_the_first_version_and_keeps_a_retrained_one(
    settings: Settings, models_root: Path, small_shipped_data: Path, session_factory: sessionmaker[Session]
) -> None:
    settings = settings.model_copy(update={"models_dir": models_root})
    registry = Registry(models_root / "triage")
    assert registry.active_id() is None
    outcome = training.train_triage(settings)
    first = registry.active()
    assert first is not None and f"version {first.id} is active" in outcome
    assert first.scores.service_code_macro_f1 == 1.0  # scored on the test file for `classifiers list`
    assert first.evaluated_on(file_sha256(small_shipped_data / "test.jsonl")) is not None  # a retrain reuses it
    assert training.train_triage(settings).startswith("triage models up to date")

    add_corrections(
        session_factory, {"subject": "Streetlight dark", "body": "on Birch Lane", "service_code": "streetlight_out"}
    )
    retrained = retraining.retrain(settings, session_factory, actor="test")
    assert retrained.promoted and registry.active_id() == retrained.version
    # trained on the shipped files plus corrections: still current, not replaced by a shipped-only model
    assert training.train_triage(settings).startswith("triage models up to date")

    with (small_shipped_data / "train.jsonl").open("a") as handle:
        handle.write(
            json.dumps({"text": "the streetlight at Elm and King is out", "service_code": "streetlight_out"}) + "\n"
        )
    assert "triage models trained" in training.train_triage(settings)
    assert registry.active_id() not in (first.id, retrained.version)


@SQLITE_ONLY
def test_the_ingesters_loader_follows_promotions_and_rollbacks(
    settings: Settings, models_root: Path, session_factory: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings.model_copy(update={"models_dir": models_root})
    loader = TriageLoader(training.triage_model_dir(settings))
    assert loader() is None  # nothing trained yet: every message goes to an agent

    first = retraining.retrain(settings, session_factory, actor="test", train_files=[TRAIN], test_file=EVAL)
    model_one = loader()
    assert model_one is not None and loader() is model_one  # loaded once, not per call
    add_corrections(session_factory, {"subject": "Bin lid cracked", "body": "", "service_code": "missed_collection"})
    second = retraining.retrain(settings, session_factory, actor="test", train_files=[TRAIN], test_file=EVAL)
    assert second.promoted
    model_two = loader()
    assert model_two is not model_one and model_two is not None
    assert model_two.meta["data"]["rows"] == 49 and model_one.meta["data"]["rows"] == 48

    registry = Registry(training.triage_model_dir(settings))
    registry.activate(first.version, by="test")
    rolled_back = loader()
    assert rolled_back is not None and rolled_back.meta["data"]["rows"] == 48

    # a damaged pointer or a damaged version must not stop the ingester: it keeps the model it has
    (registry.root / ACTIVE_FILE).write_text("{not json")
    assert loader() is rolled_back
    registry.activate(second.version, by="test")
    (registry.versions_dir / second.version / "service_code.skops").write_bytes(b"not a skops file")
    assert loader() is rolled_back
    assert "cannot load triage model version" in caplog.text


# ---- chat messages the assistant did not understand, as Rasa NLU YAML -----------------------------------


def test_the_fallback_texts_and_intents_come_from_the_bot() -> None:
    fallbacks = chat_nlu.fallback_texts()
    assert len(fallbacks) == 2 and any(text.startswith("sorry, i'm not sure i understood that") for text in fallbacks)
    domain_intents: set[str] = set()
    for file in chat_nlu.DOMAIN.glob("*.yml"):
        for intent in yaml.safe_load(file.read_text()).get("intents") or []:
            domain_intents.add(intent if isinstance(intent, str) else next(iter(intent)))
    assert set(chat_nlu.KIND_INTENTS.values()) <= domain_intents
    assert chat_nlu.NEEDS_REVIEW not in domain_intents


def test_redaction_replaces_personal_information_with_tokens() -> None:
    text = (
        "Call me at (905) 555-0143 or 289.555.0199 ext. 12, or 555-0101, email jo.smith+311@example.ca, "
        "postal code L9T 2X5 or l9t2x5; see [this](link)\nthanks"
    )
    assert chat_nlu.redact(text) == (
        "Call me at <PHONE> or <PHONE>, or <PHONE>, email <EMAIL>, postal code <POSTAL_CODE> or <POSTAL_CODE>; "
        "see (this)(link) thanks"
    )
    # a street address is someone's home; years, request references and street names are not personal
    assert chat_nlu.redact("Pothole at 1250 King St since 2026, SR-2026-00042, near Elm St and Oak Ave") == (
        "Pothole at <ADDRESS> since 2026, SR-2026-00042, near Elm St and Oak Ave"
    )


def _conversation(session: Session, turns: list[tuple[str, str]], handoff: str | None = None) -> None:
    conversation = chat.start(session)
    for author, text in turns:
        payload = {"button": "/affirm"} if author == "button" else {}
        chat.record(session, conversation, "resident" if author == "button" else author, text, payload)
    if handoff:
        chat.to_queue(session, conversation, handoff)


UTTER_DEFAULT = (
    "Sorry, I'm not sure I understood that. Could you say it another way, in a sentence or two? "
    "Or choose what you need:"
)
UTTER_HANDOFF_NOT_UNDERSTOOD = (
    "Sorry, I'm still not understanding. I'm passing our conversation to a Service First agent, who will reply "
    "here. Agents are available Monday to Friday, 8:00 a.m. to 6:00 p.m.; outside those hours, someone will "
    "follow up on the next business day."
)


def failed_chats(factory: sessionmaker[Session]) -> None:
    with transaction(factory) as session:
        _conversation(
            session,
            [
                ("resident", "when is garbage day"),
                ("bot", "Garbage is collected every week on your collection day."),
                ("resident", "my neighbour's hedge is ginormous, email me at ann.lee@example.org"),
                ("bot", UTTER_DEFAULT),
                ("button", "Yes, connect me"),
                ("bot", UTTER_DEFAULT),  # after a button press: nothing the resident typed
            ],
        )
        _conversation(
            session,
            [
                ("resident", "the thingy by the lake is broke again"),
                ("bot", UTTER_DEFAULT),
                ("resident", "call me 905-555-0177, I'm at L4K 1B2"),
                ("bot", UTTER_HANDOFF_NOT_UNDERSTOOD),
            ],
            handoff="not_understood",
        )
        # handed off as not understood with some other wording of the reply: the reason is enough
        _conversation(
            session,
            [("resident", "where do I get a permit for my shed"), ("bot", "Let me find someone who can help.")],
            handoff="not_understood",
        )
        _conversation(session, [("resident", "I want a human")], handoff="resident_request")
        agent = "tom.wong@northvale.ca"
        session.add_all(
            [
                TriageCorrection(source="chat", body="Your snowplow knocked my mailbox over!", kind="complaint",
                                 corrected_by=agent),
                TriageCorrection(source="chat", body="is the pool open on Sunday", corrected_by=agent),
                TriageCorrection(source="email", body="not a chat", kind="complaint", corrected_by=agent),
            ]
        )  # fmt: skip


def test_failed_chat_messages_export_as_rasa_nlu_yaml_for_review(
    cli_env: dict[str, str], session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    failed_chats(session_factory)
    out = tmp_path / "review" / "not_understood.yml"
    result = cli(cli_env, "export-chat-nlu", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert f"wrote 6 examples to {out} (1 file_complaint, 5 needs_review)" in result.stdout
    text = out.read_text()
    data = yaml.safe_load(text)
    assert data["version"] == "3.1"
    assert [block["intent"] for block in data["nlu"]] == ["file_complaint", "needs_review"]
    examples = {block["intent"]: block["examples"] for block in data["nlu"]}
    assert all(set(block) == {"intent", "examples"} for block in data["nlu"])
    assert "    examples: |\n" in text  # block literals, as Rasa's own files are written
    lines = {intent: value.splitlines() for intent, value in examples.items()}
    assert all(line.startswith("- ") for value in lines.values() for line in value)
    assert lines["file_complaint"] == ["- Your snowplow knocked my mailbox over!"]
    assert lines["needs_review"] == [
        "- my neighbour's hedge is ginormous, email me at <EMAIL>",
        "- the thingy by the lake is broke again",
        "- call me <PHONE>, I'm at <POSTAL_CODE>",
        "- where do I get a permit for my shed",
        "- is the pool open on Sunday",
    ]
    for secret in ("ann.lee@example.org", "905-555-0177", "L4K 1B2", "when is garbage day", "I want a human"):
        assert secret not in text


def test_an_empty_export_is_still_valid_yaml(cli_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "empty.yml"
    assert cli(cli_env, "export-chat-nlu", "--out", str(out)).exit_code == 0
    assert yaml.safe_load(out.read_text()) == {"version": "3.1", "nlu": []}


# ---- the trainer's console page --------------------------------------------------------------------------


@pytest.fixture
def web_settings(settings: Settings, models_root: Path) -> Settings:
    return settings.model_copy(update={"models_dir": models_root})


@pytest.fixture
def web(web_settings: Settings, session_factory: sessionmaker[Session]) -> Any:
    with transaction(session_factory) as session:
        for email, name, role in [
            ("sam.okafor@northvale.ca", "Sam Okafor", "trainer"),
            ("dana.ross@northvale.ca", "Dana Ross", "admin"),
            ("priya.raman@northvale.ca", "Priya Raman", "agent"),
            ("ann.leblanc@northvale.ca", "Ann Leblanc", "supervisor"),
        ]:
            auth.create_user(session, email, name, PASSWORD, role)
    return create_app(web_settings)


def signed_in(app: Any, email: str) -> tuple[TestClient, str]:
    """A signed-in client (of a role that may open the models page) and its session's CSRF token."""
    client = TestClient(app, base_url="https://testserver")  # console cookies are Secure outside development
    login = re.search(r'name="csrf_token" value="([^"]*)"', client.get("/console/login").text)
    assert login
    form = {"email": email, "password": PASSWORD, "csrf_token": login.group(1)}
    assert client.post("/console/login", data=form, follow_redirects=False).status_code == 303
    csrf = re.search(r'data-csrf="([^"]+)"', client.get("/console/models").text)
    assert csrf
    return client, csrf.group(1)


def audit_actions(factory: sessionmaker[Session]) -> list[tuple[str, str, str, dict[str, Any]]]:
    with factory() as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.record_type == "triage_model").order_by(AuditEntry.id)
        )
        return [(row.actor, row.action, row.record_id, row.detail) for row in rows]


@SQLITE_ONLY
def test_only_trainers_and_administrators_open_the_models_page(web: Any) -> None:
    for email in ("priya.raman@northvale.ca", "ann.leblanc@northvale.ca"):
        client = TestClient(web, base_url="https://testserver")
        login = client.get("/console/login").text
        token = re.search(r'name="csrf_token" value="([^"]*)"', login).group(1)  # type: ignore[union-attr]
        client.post("/console/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
        for method, path in [("GET", "/console/models"), ("GET", "/console/models/chat-nlu.yml"),
                             ("POST", "/console/models/retrain"), ("POST", "/console/models/activate")]:  # fmt: skip
            assert client.request(method, path).status_code == 403, (email, path)
        assert "Triage models" not in client.get("/console/kb" if "ann" in email else "/console/queue").text
    for email in ("sam.okafor@northvale.ca", "dana.ross@northvale.ca"):
        client, _ = signed_in(web, email)
        page = client.get("/console/models")
        assert page.status_code == 200 and "No versions yet" in page.text and "No retrain has run yet." in page.text
        assert '<a href="/console/models" aria-current="page">Triage models</a>' in page.text
    anonymous = TestClient(web, base_url="https://testserver")
    asked = anonymous.get("/console/models", headers={"accept": "text/html"}, follow_redirects=False)
    assert asked.status_code == 303 and asked.headers["location"] == "/console/login?next=/console/models"


@SQLITE_ONLY
def test_trainers_promote_and_roll_back_versions_with_an_audit_trail(
    web: Any, web_settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    first = retraining.retrain(web_settings, session_factory, actor="test", train_files=[TRAIN], test_file=EVAL)
    add_corrections(
        session_factory, {"subject": "No light", "body": "Streetlight out on Elm", "service_code": "streetlight_out"}
    )
    second = retraining.retrain(web_settings, session_factory, actor="test", train_files=[TRAIN], test_file=EVAL)
    registry = Registry(web_settings.models_dir / "triage")
    assert registry.active_id() == second.version
    client, csrf = signed_in(web, "sam.okafor@northvale.ca")

    page = client.get("/console/models").text
    assert page.index(second.version) < page.index(first.version)  # newest first
    assert f"Active: version {second.version}" in page and "Roll back to this version" in page
    # the active version's operating point: its thresholds and held-out coverage/accuracy curve
    assert 'id="coverage-curve"' in page and "What the active version answers by itself" in page
    assert re.search(r'<th scope="row">0\.9</th><td>\d+%</td><td>[01]\.\d{3}</td>', page)

    forged = client.post("/console/models/activate", data={"version": first.version, "csrf_token": "forged"})
    assert forged.status_code == 403 and registry.active_id() == second.version

    rolled = client.post("/console/models/activate", data={"version": first.version, "csrf_token": csrf})
    assert rolled.status_code == 200 and f"Version {first.version} is now active (was {second.version})." in rolled.text
    assert registry.active_id() == first.version
    assert "Make this version active" in rolled.text  # the newer one can be promoted again

    promoted = client.post("/console/models/activate", data={"version": second.version, "csrf_token": csrf})
    assert promoted.status_code == 200 and registry.active_id() == second.version

    unknown = client.post("/console/models/activate", data={"version": "../../etc", "csrf_token": csrf})
    assert unknown.status_code == 422 and "no triage model version &#39;../../etc&#39;" in unknown.text
    assert registry.active_id() == second.version
    assert audit_actions(session_factory) == [
        ("sam.okafor@northvale.ca", "triage.rollback", first.version, {"previous": second.version}),
        ("sam.okafor@northvale.ca", "triage.promote", second.version, {"previous": first.version}),
    ]


@SQLITE_ONLY
def test_a_retrain_started_from_the_page_runs_in_the_background(
    web: Any, web_settings: Settings, session_factory: sessionmaker[Session], small_shipped_data: Path
) -> None:
    client, csrf = signed_in(web, "sam.okafor@northvale.ca")
    started = client.post("/console/models/retrain", data={"csrf_token": csrf}, follow_redirects=False)
    assert started.status_code == 303 and started.headers["location"] == "/console/models?started=1"
    root = web_settings.models_dir / "triage"
    for thread in threading.enumerate():
        if thread.name == "triage-retrain":
            thread.join(timeout=120)  # bounded: this small retrain takes about a second
            assert not thread.is_alive()
    status = retraining.read_status(root)
    assert status is not None and status["state"] == "finished", status
    version = status["outcome"]["version"]
    page = client.get("/console/models").text
    assert "Last retrain finished" in page and f"Version {version} (48 emails, 0 corrections):" in page
    assert "promoted." in page and "Retrain now" in page
    assert Registry(root).active_id() == version
    assert audit_actions(session_factory) == [
        ("sam.okafor@northvale.ca", "triage.retrain", "retrain", {}),
        ("sam.okafor@northvale.ca", "triage.promote", version, {"previous": None, "automatic": True, "reasons": []}),
    ]
    with Registry(root).training():  # another retrain (say from the command line) is running
        busy = client.post("/console/models/retrain", data={"csrf_token": csrf})
        assert busy.status_code == 409 and "being trained; wait" in busy.text


@SQLITE_ONLY
def test_trainers_download_the_chat_messages_to_review(web: Any, session_factory: sessionmaker[Session]) -> None:
    failed_chats(session_factory)
    client, _ = signed_in(web, "sam.okafor@northvale.ca")
    download = client.get("/console/models/chat-nlu.yml")
    assert download.status_code == 200
    assert download.headers["content-disposition"] == 'attachment; filename="chat-not-understood.yml"'
    assert download.headers["cache-control"] == "no-store"
    data = yaml.safe_load(download.text)
    assert data["version"] == "3.1" and [b["intent"] for b in data["nlu"]] == ["file_complaint", "needs_review"]
    assert "ann.lee@example.org" not in download.text
    with session_factory() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "chat_nlu.export")).one()
    assert entry.actor == "sam.okafor@northvale.ca" and entry.detail == {"examples": 6}
