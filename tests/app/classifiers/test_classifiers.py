"""Triage classifiers: data loading, thresholds, rules, extraction, persistence and the CLI."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier
from typer.testing import CliRunner

from classifiers.cli import app
from classifiers.data import compose_text, data_sha256, load_dataset
from classifiers.errors import DataError, ModelError, PatternError, UntrustedTypeError
from classifiers.evaluate import evaluate
from classifiers.metrics import coverage_curve, paging_scores
from classifiers.model import (
    TriageModel,
    UrgencyTargets,
    UrgencyThresholds,
    build_classifier,
    build_features,
    choose_threshold,
    decide,
    is_stale,
    load_model,
    threshold_for_precision,
    threshold_for_recall,
    train,
    urgency_thresholds_for,
)
from classifiers.rules import EmergencyHit, RuleEngine, extract_entities, find_emergencies
from classifiers.store import META_FILE, load_trusted

DATA = Path(__file__).parent.parent / "data" / "classifiers"
TRAIN = DATA / "train.jsonl"
EVAL = DATA / "eval.jsonl"
STAFF_CSV = DATA / "staff_categories.csv"
HEADS = ["service_code", "kind", "urgency"]

runner = CliRunner()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("triage") / "model"
    # the fixture has 12 rows per service code: a lower bar than production's 10 validated answers per class
    train([TRAIN], out, min_answered=2)
    return out


@pytest.fixture(scope="module")
def model(model_dir: Path) -> TriageModel:
    return load_model(model_dir)


def copy_model(model_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "model"
    shutil.copytree(model_dir, target)
    return target


# --- data loading ---------------------------------------------------------------------------------------


def test_jsonl_subject_and_body_make_the_text_and_every_head_is_found() -> None:
    dataset = load_dataset([TRAIN])
    assert dataset.heads == HEADS
    assert len(dataset.examples) == 48
    first = dataset.examples[0]
    assert first.text.startswith("Pothole on Maple Avenue\n\nThere is a deep pothole")
    assert first.labels == {"service_code": "road_repair", "kind": "service_request", "urgency": "routine"}


def test_several_files_are_one_dataset_with_an_order_free_hash() -> None:
    both = load_dataset([TRAIN, EVAL])
    assert len(both.examples) == 48 + 8
    assert [f.rows for f in both.files] == [48, 8]
    assert both.sha256 == load_dataset([EVAL, TRAIN]).sha256 == data_sha256([TRAIN, EVAL])
    assert both.sha256 != load_dataset([TRAIN]).sha256


def test_csv_with_text_column_and_staff_categories() -> None:
    dataset = load_dataset([STAFF_CSV])
    assert dataset.heads == ["service_code"]
    assert sorted({e.labels["service_code"] for e in dataset.examples}) == ["lighting", "roads", "waste"]
    # a quoted field spanning lines is one row, reported at the line where it starts
    assert dataset.examples[-1].source.endswith("staff_categories.csv:13")
    assert "keeps flickering" in dataset.examples[-1].text


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("bad.jsonl", '{"text": "ok", "kind": "complaint"}\n\n{"text": "broken"\n', "bad.jsonl:3: invalid JSON"),
        ("list.jsonl", '["text", "kind"]\n', "list.jsonl:1: expected a JSON object"),
        ("notext.jsonl", '{"text": "ok", "kind": "a"}\n{"subject": " ", "kind": "b"}\n', "notext.jsonl:2: no text"),
        ("nolabel.jsonl", '{"text": "ok", "kind": "a"}\n{"text": "fine"}\n', "nolabel.jsonl:2: no label"),
        ("number.jsonl", '{"text": "ok", "urgency": 3}\n', "number.jsonl:1: `urgency` must be a string"),
        ("extra.csv", "text,kind\nhello,complaint\nhi,complaint,surplus\n", "extra.csv:3: 3 fields"),
        ("header.csv", "message,kind\nhello,complaint\n", "header.csv:1: header has no text column"),
        ("empty.jsonl", "\n\n", "empty.jsonl: no rows"),
        ("data.txt", "text\n", "data.txt: unsupported file type .txt"),
    ],
)
def test_bad_data_names_file_line_and_problem(tmp_path: Path, name: str, content: str, expected: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError) as caught:
        load_dataset([path])
    assert expected in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_missing_file_and_invalid_utf8(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="missing.jsonl: file not found"):
        load_dataset([tmp_path / "missing.jsonl"])
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(b'{"text": "ok", "kind": "a"}\n{"text": "caf\xe9", "kind": "b"}\n')
    with pytest.raises(DataError, match="latin1.jsonl:2: not valid UTF-8"):
        load_dataset([path])


def test_training_refuses_a_label_with_a_single_example(tmp_path: Path) -> None:
    path = tmp_path / "rare.jsonl"
    rows = [{"text": f"pothole number {i}", "kind": "service_request"} for i in range(4)]
    rows.append({"text": "thank you for the quick repair", "kind": "compliment"})
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match="`kind` labels with fewer than 2 examples: compliment"):
        train([path], tmp_path / "model")


# --- thresholds and decisions ---------------------------------------------------------------------------


def test_threshold_is_lowest_confidence_that_keeps_target_accuracy() -> None:
    # top labels at 0.9 (right), 0.8 (right), 0.7 (wrong), 0.6 (right), 0.55 (wrong), 0.5 (wrong)
    confidence = np.array([0.9, 0.8, 0.7, 0.6, 0.55, 0.5])
    correct = np.array([True, True, False, True, False, False])
    assert choose_threshold(correct, confidence, target_accuracy=0.97, min_answered=1) == pytest.approx(0.8)
    # 3 of 4 right at 0.6 is 75%: a 0.75 target answers those four
    assert choose_threshold(correct, confidence, 0.75, 1) == pytest.approx(0.6)
    assert choose_threshold(correct, confidence, 0.5, 1) == pytest.approx(0.5)
    # too few validated answers is no evidence at all
    assert choose_threshold(correct, confidence, 0.97, min_answered=3) is None


def test_tied_confidences_are_answered_together() -> None:
    confidence = np.array([0.9, 0.9, 0.5])
    assert choose_threshold(np.array([True, False, False]), confidence, 0.97, 1) is None
    assert choose_threshold(np.array([True, False, False]), confidence, 0.5, 1) == pytest.approx(0.9)


def test_decide_abstains_below_threshold_and_answers_above() -> None:
    classes = ["routine", "urgent"]
    answered = decide("kind", classes, np.array([0.95, 0.05]), 0.9, 0.95)
    assert (answered.label, answered.abstain, answered.source) == ("routine", False, "model")
    low = decide("kind", classes, np.array([0.6, 0.4]), 0.9, 0.95)
    assert low.abstain and low.label == "routine"
    assert "below the threshold 0.90" in low.reason
    never = decide("kind", classes, np.array([0.2, 0.8]), None, 0.95)
    assert never.abstain and "did not show 0.95 accuracy" in never.reason


def test_rule_hit_pages_with_the_phrase_as_reason() -> None:
    hit = EmergencyHit("gas_smell", "smell of gas", 10, 22)
    decision = decide("urgency", ["emergency", "routine"], np.array([0.01, 0.99]), 0.5, 0.95, [hit])
    assert (decision.label, decision.abstain, decision.source, decision.tier) == ("emergency", False, "rule", "page")
    assert "'smell of gas'" in decision.reason and "gas_smell" in decision.reason
    # other heads are not touched by emergency rules
    other = decide("kind", ["a", "b"], np.array([0.99, 0.01]), 0.5, 0.95, [hit])
    assert other.source == "model" and other.tier is None


URGENCY = ["emergency", "routine", "urgent"]


def test_paging_threshold_is_the_lowest_probability_keeping_the_precision() -> None:
    # rows the rules did not page, by P(emergency): 0.95 E, 0.9 E, 0.8 E, 0.7 not, 0.6 E, 0.5 not, 0.4 not
    truth = np.array([True, True, True, False, True, False, False, True])
    p_emergency = np.array([0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.1])
    ruled = np.array([False] * 7 + [True])  # the rule hit's own row does not count for the threshold
    assert threshold_for_precision(truth, p_emergency, ruled, 1.0, 1) == pytest.approx(0.8)
    assert threshold_for_precision(truth, p_emergency, ruled, 0.8, 1) == pytest.approx(0.6)  # 4 of 5
    assert threshold_for_precision(truth, p_emergency, ruled, 0.9, 4) is None  # 3 of 3 is too few pages
    # ties are paged together: at 0.4 both rows are flagged
    tied = threshold_for_precision(np.array([True, False]), np.array([0.4, 0.4]), np.zeros(2, dtype=bool), 0.9, 1)
    assert tied is None


def test_possible_threshold_is_the_largest_probability_reaching_the_recall() -> None:
    # five emergencies: one already flagged (rule, page or argmax), the others at 0.6, 0.4, 0.3 and 0.1
    truth = np.array([True, True, True, True, True, False, False, False])
    p_emergency = np.array([0.9, 0.6, 0.4, 0.3, 0.1, 0.5, 0.35, 0.05])
    already = np.array([True, False, False, False, False, False, False, False])
    assert threshold_for_recall(truth, p_emergency, already, 0.8) == pytest.approx(0.3)
    assert threshold_for_recall(truth, p_emergency, already, 0.98) == pytest.approx(0.1)
    assert threshold_for_recall(truth, p_emergency, already, 0.2) is None  # the flagged row alone reaches it
    assert threshold_for_recall(np.zeros(3, dtype=bool), p_emergency[:3], already[:3], 0.98) is None


def test_urgency_thresholds_are_chosen_on_held_out_rows() -> None:
    rng = np.random.default_rng(0)
    truth = np.array(["emergency"] * 50 + ["urgent"] * 50 + ["routine"] * 200, dtype=object)
    # the likelier an emergency, the likelier it is one; urgent reports often unsure between urgent and routine
    p_e = np.concatenate([rng.uniform(0.1, 1.0, 50), rng.uniform(0.0, 0.5, 50), rng.uniform(0.0, 0.3, 200)])
    p_u = np.concatenate([rng.uniform(0.0, 0.2, 50), rng.uniform(0.1, 0.5, 50), rng.uniform(0.0, 0.3, 200)])
    proba = np.column_stack([p_e, 1 - p_e - p_u, p_u])
    proba = np.clip(proba, 0.0, None) / np.clip(proba, 0.0, None).sum(axis=1, keepdims=True)
    chosen = urgency_thresholds_for(list(truth), URGENCY, proba, [[] for _ in truth], UrgencyTargets())
    assert chosen.page is not None and chosen.possible is not None and chosen.urgent is not None
    assert chosen.possible < chosen.page
    decisions = [decide("urgency", URGENCY, row, None, 0.95, (), chosen) for row in proba]
    emergencies = truth == "emergency"
    flagged = np.array([d.label == "emergency" for d in decisions])
    paged = np.array([d.tier == "page" for d in decisions])
    assert (flagged & emergencies).sum() >= 0.98 * emergencies.sum()
    assert (paged & emergencies).sum() >= 0.9 * paged.sum()
    assert all(not d.abstain for d in decisions)  # the urgency head never sends a message to a person


def test_decide_urgency_tiers_and_the_more_urgent_plausible_label() -> None:
    thresholds = UrgencyThresholds(page=0.8, possible=0.2, urgent=0.3)
    paged = decide("urgency", URGENCY, np.array([0.85, 0.05, 0.1]), None, 0.95, (), thresholds)
    assert (paged.label, paged.tier, paged.abstain) == ("emergency", "page", False)
    assert "paging threshold 0.80" in paged.reason
    possible = decide("urgency", URGENCY, np.array([0.25, 0.15, 0.6]), None, 0.95, (), thresholds)
    assert (possible.label, possible.tier) == ("emergency", "possible")
    assert "possible-emergency threshold 0.20" in possible.reason and "urgent was likelier" in possible.reason
    # an emergency argmax below the paging threshold is a possible emergency, never a page
    argmax = decide("urgency", URGENCY, np.array([0.5, 0.3, 0.2]), None, 0.95, (), thresholds)
    assert (argmax.label, argmax.tier) == ("emergency", "possible")
    unsure = decide("urgency", URGENCY, np.array([0.1, 0.55, 0.35]), None, 0.95, (), thresholds)
    assert (unsure.label, unsure.tier, unsure.abstain) == ("urgent", None, False)
    assert "handled as urgent" in unsure.reason
    routine = decide("urgency", URGENCY, np.array([0.05, 0.8, 0.15]), None, 0.95, (), thresholds)
    assert (routine.label, routine.tier, routine.abstain) == ("routine", None, False)
    # without thresholds only the argmax and the rules decide
    plain = decide("urgency", URGENCY, np.array([0.35, 0.05, 0.6]), None, 0.95)
    assert (plain.label, plain.tier) == ("urgent", None)


def test_coverage_curve_and_paging_scores() -> None:
    correct = np.array([True, True, False, True])
    curve = {p["threshold"]: p for p in coverage_curve(correct, np.array([0.99, 0.9, 0.6, 0.3]))}
    assert (curve[0.0]["coverage"], curve[0.0]["accuracy"]) == (1.0, 0.75)
    assert (curve[0.5]["coverage"], curve[0.5]["accuracy"]) == (0.75, pytest.approx(0.6667))
    assert (curve[0.99]["coverage"], curve[0.99]["accuracy"]) == (0.25, 1.0)
    truth = np.array(["emergency", "emergency", "routine", "emergency"], dtype=object)
    scores = paging_scores(truth, np.array([True, False, True, False]))
    assert scores == {"paged": 2, "paging_precision": 0.5, "paging_recall": pytest.approx(0.3333)}


def _objective(classifier: LogisticRegression, matrix: np.ndarray, labels: np.ndarray) -> float:
    """What LogisticRegression minimises: class-weighted log-loss plus the L2 penalty ||W||^2 / (2C)."""
    truth = np.searchsorted(classifier.classes_, labels)
    weights = len(labels) / (len(classifier.classes_) * np.bincount(truth))
    proba = classifier.predict_proba(matrix)[np.arange(len(labels)), truth]
    return float((weights[truth] * -np.log(proba)).sum() + (classifier.coef_**2).sum() / (2 * classifier.C))


@pytest.mark.parametrize("head", HEADS)
def test_classifier_is_fitted_to_the_optimum(head: str) -> None:
    # a loose solver tolerance (1e-3) stopped newton-cg after a few steps: 3.6% above the optimum on the
    # email urgency head, and 0.926 -> 0.890 validation accuracy on CLINC150; here it is 0.03-0.13% above
    dataset = load_dataset([TRAIN])
    rows, labels = dataset.labelled(head)
    matrix = build_features().fit_transform(dataset.texts())[rows]
    y = np.asarray(labels)
    fitted = build_classifier().fit(matrix, y)
    with warnings.catch_warnings():  # this close to the optimum, rounding stops the line search: expected
        warnings.simplefilter("ignore")
        reference = build_classifier().set_params(tol=1e-8).fit(matrix, y)
    optimum = _objective(reference, matrix, y)
    assert _objective(fitted, matrix, y) <= optimum * (1 + 2.5e-4)


# --- train, save, load, predict -------------------------------------------------------------------------


def test_model_directory_has_skops_heads_and_sidecar(model_dir: Path) -> None:
    assert sorted(p.name for p in model_dir.iterdir()) == [
        "features.skops",
        "kind.skops",
        "model.json",
        "service_code.skops",
        "urgency.skops",
    ]
    meta = json.loads((model_dir / META_FILE).read_text())
    assert meta["heads"] == HEADS
    assert meta["labels"]["service_code"] == ["missed_collection", "road_repair", "streetlight_out", "water_main_break"]
    assert set(meta["thresholds"]) == set(HEADS) and meta["target_accuracy"] == 0.95
    assert len(meta["data"]["sha256"]) == 64
    assert meta["data"]["rows"] == 48 and meta["data"]["rows_per_head"]["kind"] == 48
    assert {"python", "scikit-learn", "skops", "spacy"} <= set(meta["versions"])
    assert meta["created_at"].endswith("+00:00")
    for head in HEADS:
        assert {"accuracy", "macro_f1", "abstain_rate", "accuracy_answered", "per_class"} <= set(meta["metrics"][head])
    assert "emergency_recall" in meta["metrics"]["urgency"]
    assert "coverage_curve" in meta["metrics"]["service_code"] and "paging_precision" in meta["metrics"]["urgency"]
    assert set(meta["urgency_thresholds"]) == {"page", "possible", "urgent", "targets"}
    assert meta["urgency_thresholds"]["targets"] == {
        "possible_recall": 0.98,
        "paging_precision": 0.9,
        "urgent_recall": 0.8,
    }


def test_predict_after_load(model: TriageModel) -> None:
    texts = [
        "The streetlight in front of 22 Maple Avenue has been out for a week.",
        compose_text("Garbage missed", "Our garbage was not picked up on Birchwood Crescent today."),
    ]
    first, second = model.predict(texts)
    assert set(first.heads) == set(HEADS)
    assert first.heads["service_code"].label == "streetlight_out"
    assert second.heads["service_code"].label == "missed_collection"
    for prediction in (first, second):
        for head, decision in prediction.heads.items():
            assert decision.label in model.meta["labels"][head]
            assert 0.0 <= decision.confidence <= 1.0
            assert decision.reason
    start = texts[0].index("22 Maple Avenue")
    assert {"label": "ADDRESS", "text": "22 Maple Avenue", "start": start, "end": start + 15} in [
        e.to_dict() for e in first.entities
    ]
    row = json.loads(json.dumps(first.to_dict()))
    assert set(row) == {"heads", "emergency_tier", "entities", "emergencies", "needs_human"}
    assert model.predict([]) == []
    with pytest.raises(TypeError):
        model.predict("one string is not a list of texts")  # type: ignore[arg-type]


def test_calibrated_probabilities_sum_to_one(model: TriageModel) -> None:
    probabilities = model.probabilities(["Pothole on King Street", "When is garbage day?"])
    for head in HEADS:
        assert np.allclose(probabilities[head].sum(axis=1), 1.0, atol=1e-5)
    assert model.pipeline("kind").predict_proba(["Pothole on King Street"]).shape == (1, 3)


def test_low_confidence_abstains_with_reason(model_dir: Path) -> None:
    vague = "Hello, I have a question about my street."
    strict = load_model(model_dir)
    strict.meta["thresholds"] = dict.fromkeys(HEADS, 0.95)
    decision = strict.predict([vague])[0]
    assert decision.needs_human
    for head in ("service_code", "kind"):
        assert decision.heads[head].confidence < 0.95
        assert decision.heads[head].abstain
        assert "below the threshold 0.95" in decision.heads[head].reason
    assert not decision.heads["urgency"].abstain  # urgency decides by cost, never abstains

    lenient = load_model(model_dir)
    lenient.meta["thresholds"] = dict.fromkeys(HEADS, 0.0)
    assert not lenient.predict([vague])[0].needs_human


def test_rule_layer_catches_an_emergency_the_model_missed(model: TriageModel) -> None:
    text = "When is my garbage day? Also there is a strong smell of gas outside 12 Birch Street."
    urgency = model.classifiers["urgency"]
    model_label = urgency.classes_[model.probabilities([text])["urgency"][0].argmax()]
    assert model_label != "emergency"  # the model alone would not raise it

    decision = model.predict([text])[0].heads["urgency"]
    assert (decision.label, decision.source, decision.abstain) == ("emergency", "rule", False)
    assert "smell of gas" in decision.reason


def test_is_stale(model_dir: Path, tmp_path: Path) -> None:
    assert not is_stale([TRAIN], model_dir)
    assert is_stale([TRAIN], tmp_path / "nowhere")

    changed = tmp_path / "train.jsonl"
    changed.write_text(TRAIN.read_text() + '{"text": "one more pothole", "service_code": "road_repair"}\n')
    assert is_stale([changed], model_dir)

    copy = copy_model(model_dir, tmp_path)
    meta = json.loads((copy / META_FILE).read_text())
    meta["versions"]["scikit-learn"] = "0.24.2"
    (copy / META_FILE).write_text(json.dumps(meta))
    assert is_stale([TRAIN], copy)


def test_loading_refuses_types_outside_the_allow_list(model_dir: Path, tmp_path: Path) -> None:
    copy = copy_model(model_dir, tmp_path)
    # skops itself trusts every scikit-learn estimator; the allow-list does not
    sio.dump(DecisionTreeClassifier().fit([[0], [1]], ["a", "b"]), copy / "kind.skops")
    with pytest.raises(UntrustedTypeError, match="sklearn.tree._classes.DecisionTreeClassifier"):
        load_model(copy)

    unsafe = tmp_path / "partial.skops"
    sio.dump({"call": __import__("functools").partial(print, "loaded")}, unsafe)
    with pytest.raises(UntrustedTypeError, match="functools.partial"):
        load_trusted(unsafe, LogisticRegression)


def test_model_dir_without_sidecar_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no model.json"):
        load_model(tmp_path)


def test_evaluate_reports_each_head(model: TriageModel) -> None:
    metrics = evaluate(model, EVAL)
    assert set(metrics) == set(HEADS)
    for head in HEADS:
        m = metrics[head]
        assert {"accuracy", "macro_f1", "abstain_rate", "accuracy_answered", "per_class"} <= set(m)
        assert sum(s["support"] for s in m["per_class"].values()) == 8
        assert 0.0 <= m["abstain_rate"] <= 1.0
    assert metrics["service_code"]["accuracy"] >= 0.75
    # the eval file's one emergency is "water gushing ... flooding the road": rules alone catch it
    assert metrics["urgency"]["emergency_recall"] == 1.0
    assert metrics["urgency"]["emergency_precision"] == 1.0


# --- emergency rules and extraction ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("There is a strong smell of gas near the school.", "gas_smell"),
        ("A sinkhole opened up on Canal Street overnight.", "sinkhole"),
        ("Downed power lines are lying across the sidewalk.", "downed_wires"),
        ("Live wires down after the storm on Pine Ridge Road.", "downed_wires"),
        ("Water is gushing out of the pavement on Harbour Street.", "water_gushing"),
        ("The creek is flooding the road near Beach Road.", "water_gushing"),
        ("Sewage is coming up through our basement floor.", "sewage_backup"),
        ("A truck had a chemical spill at the plaza.", "chemical_spill"),
        ("The manhole cover is missing on Queen Street.", "manhole_cover_missing"),
        ("A tree fell on my car during the wind storm.", "tree_on_structure"),
        ("Our carbon monoxide alarm keeps going off.", "carbon_monoxide"),
        ("There is an outbreak at the daycare, many children are sick.", "outbreak"),
        ("The light at Harlow and Mill is stuck on red and cars are running it.", "traffic_control_out"),
        ("The traffic lights are not working at King and Queen.", "traffic_control_out"),
        ("Thornbury Lane is flooding, water up to the car doors.", "water_gushing"),
        ("The storm is flooding our basement right now.", "water_gushing"),
        ("The excavator is leaking oil into the creek.", "chemical_spill"),
        ("12 campers and 2 counsellors went home vomiting.", "outbreak"),
        ("9 of our 15 players and 3 parents got sick last night.", "outbreak"),
        ("Three people in our building have been hospitalized with pneumonia.", "outbreak"),
        ("A big pine has come down across Shoreline Drive.", "road_hazard"),
        ("A man is slumped in his car and unresponsive.", "person_hurt"),
        ("A passenger is having a seizure on the bus.", "person_hurt"),
    ],
)
def test_emergency_rules(text: str, rule: str) -> None:
    hits = find_emergencies(text)
    assert rule in [hit.rule for hit in hits]
    for hit in hits:
        assert text[hit.start : hit.end] == hit.text


def test_routine_mail_has_no_emergency() -> None:
    assert find_emergencies("Please send me a new blue box and tell me when garbage day is.") == []


@pytest.mark.parametrize(
    "text",
    [
        "Steel plates are sitting in the bike lane on Corrigan Drive.",  # not a traffic lane
        "The street lights are out at the park entrance.",  # streetlights, not signals
        "Does the basement flooding subsidy cover a backwater valve?",  # a question, no verb in progress
        "We changed the oil in the car yesterday.",  # oil, but nothing going into water
        "Two kids in my class were sick with a cold last month.",  # no number of people sick as a group
    ],
)
def test_new_emergency_rules_leave_near_misses_alone(text: str) -> None:
    assert find_emergencies(text) == []


def test_negation_is_not_understood_known_limitation() -> None:
    # The rules match phrases, not meaning: this goes to a human as an emergency (the safe direction).
    assert [hit.rule for hit in find_emergencies("There is no gas smell any more.")] == ["gas_smell"]


@pytest.mark.parametrize(
    ("text", "label", "expected"),
    [
        ("The pothole is in front of 123 Main St near the school.", "ADDRESS", "123 Main St"),
        ("Please come to 45 Elm Ridge Road North today.", "ADDRESS", "45 Elm Ridge Road North"),
        ("My unit is 4-210 King Street W, Harlow Falls.", "ADDRESS", "4-210 King Street W"),
        ("The lights are out at Main St and King St tonight.", "INTERSECTION", "Main St and King St"),
        ("Garbage was dumped at the corner of King & Queen.", "INTERSECTION", "King & Queen"),
        ("Trucks park all night on Birchwood Crescent.", "STREET", "Birchwood Crescent"),
        ("Mail it to 88 Falls View Dr, Harlow Falls ON L3X 2B7.", "POSTAL_CODE", "L3X 2B7"),
        ("Call me at (905) 555-0123 after 5.", "PHONE", "(905) 555-0123"),
        ("My number is 289-555-0142 ext. 12", "PHONE", "289-555-0142 ext. 12"),
        ("Reply to jane.doe@example.ca please.", "EMAIL", "jane.doe@example.ca"),
        ("About request SR-2026-000123, any news?", "REFERENCE", "SR-2026-000123"),
        ("It happened on March 3, 2026 in the evening.", "DATE", "March 3, 2026"),
        ("It happened on 2026-03-14 in the evening.", "DATE", "2026-03-14"),
        ("The bin was missed last Tuesday again.", "DATE", "last Tuesday"),
    ],
)
def test_extraction(text: str, label: str, expected: str) -> None:
    entities = extract_entities(text)
    assert {"label": label, "text": expected} in [{"label": e["label"], "text": e["text"]} for e in entities]
    for entity in entities:
        assert text[int(entity["start"]) : int(entity["end"])] == entity["text"]


def test_extraction_rejects_look_alikes() -> None:
    # D, F, I, O, Q, U never appear in Canadian postal codes; 3 potholes are not a civic address
    text = "There are 3 potholes on Queen Street. Postal code D3X 2B7? Reference SR-26-1."
    labels = [(e["label"], e["text"]) for e in extract_entities(text)]
    assert labels == [("STREET", "Queen Street")]


def test_bad_pattern_file_names_the_line(tmp_path: Path) -> None:
    patterns = tmp_path / "emergency.jsonl"
    patterns.write_text('{"label": "EMERGENCY", "pattern": "smell of gas"}\n{"label": "EMERGENCY"}\n')
    with pytest.raises(PatternError, match="emergency.jsonl:2"):
        RuleEngine(emergency_patterns=patterns)
    patterns.write_text('{"label": "EMERGENCY", "pattern": [{"LOWERCASE": "gas"}]}\n')
    with pytest.raises(PatternError, match="emergency.jsonl:1: invalid pattern"):
        RuleEngine(emergency_patterns=patterns)


# --- command line ---------------------------------------------------------------------------------------


def test_cli_train_prints_a_summary(tmp_path: Path) -> None:
    result = runner.invoke(app, ["train", "--data", str(STAFF_CSV), "--out", str(tmp_path / "staff")])
    assert result.exit_code == 0, result.output
    assert "trained service_code on 12 rows" in result.stdout
    assert "macro-F1" in result.stdout
    assert json.loads((tmp_path / "staff" / META_FILE).read_text())["labels"]["service_code"] == [
        "lighting",
        "roads",
        "waste",
    ]


def test_cli_evaluate_json_and_report(model_dir: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["evaluate", "--model", str(model_dir), "--data", str(EVAL), "--json", "--report", str(tmp_path / "r")],
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert set(metrics) == set(HEADS)
    assert isinstance(metrics["kind"]["macro_f1"], float)
    assert set(metrics["urgency"]) >= {"emergency_recall", "emergency_precision", "per_class"}
    html = (tmp_path / "r" / "report.html").read_text()
    assert html.count("<svg") == 6  # a confusion matrix and a reliability diagram per head


def test_cli_predict_reads_and_writes_json_lines(model_dir: Path) -> None:
    lines = [
        json.dumps({"id": "m-1", "text": "Water is gushing out of the road on King Street."}),
        json.dumps({"subject": "Streetlight out", "body": "The light at 5 Hemlock Court is out."}),
        "",
    ]
    result = runner.invoke(app, ["predict", "--model", str(model_dir)], input="\n".join(lines))
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 2
    assert rows[0]["id"] == "m-1" and "id" not in rows[1]
    assert rows[0]["heads"]["urgency"]["label"] == "emergency"
    assert rows[0]["emergencies"][0]["rule"] == "water_gushing"
    assert set(rows[1]["heads"]["service_code"]) == {"label", "confidence", "abstain", "reason", "source", "tier"}
    text = compose_text("Streetlight out", "The light at 5 Hemlock Court is out.")
    start = text.index("5 Hemlock Court")
    assert {"label": "ADDRESS", "text": "5 Hemlock Court", "start": start, "end": start + 15} in rows[1]["entities"]


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["train", "--data", "{missing}", "--out", "{tmp}/m"], None, "missing.jsonl: file not found"),
        (["train", "--data", "{bad}", "--out", "{tmp}/m"], None, "bad.jsonl:2: invalid JSON"),
        (["evaluate", "--model", "{tmp}", "--data", "{eval}"], None, "no model.json"),
        (["predict", "--model", "{tmp}"], "", "no model.json"),
        (["predict", "--model", "{model}"], '{"text": "ok"}\n{"text": }\n', "stdin line 2: "),
        (["predict", "--model", "{model}"], '{"title": "no text"}\n', "stdin line 1: no text"),
    ],
)
def test_cli_errors_are_one_line_and_exit_2(
    model_dir: Path, tmp_path: Path, args: list[str], stdin: str | None, message: str
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine", "kind": "a"}\n{"text": \n')
    values = {"missing": tmp_path / "missing.jsonl", "bad": bad, "tmp": tmp_path, "eval": EVAL, "model": model_dir}
    result = runner.invoke(app, [arg.format(**values) for arg in args], input=stdin)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output
