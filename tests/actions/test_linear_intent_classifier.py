"""The custom intent classifier (bot/components): learns from sparse features, stores no pickle, reloads the same."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

pytest.importorskip("rasa")

from rasa.engine.graph import ExecutionContext, GraphSchema  # noqa: E402
from rasa.engine.storage.local_model_storage import LocalModelStorage  # noqa: E402
from rasa.engine.storage.resource import Resource  # noqa: E402
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, FEATURE_TYPE_SEQUENCE, INTENT, TEXT  # noqa: E402
from rasa.shared.nlu.training_data.features import Features  # noqa: E402
from rasa.shared.nlu.training_data.message import Message  # noqa: E402
from rasa.shared.nlu.training_data.training_data import TrainingData  # noqa: E402

from bot.components.linear_intent_classifier import LinearIntentClassifier  # noqa: E402

VOCABULARY = ["pothole", "road", "gas", "smell", "hello", "hi"]


def message(words: list[str], intent: str | None = None) -> Message:
    counts = sp.coo_matrix([[words.count(w) for w in VOCABULARY]])
    data = {TEXT: " ".join(words), **({INTENT: intent} if intent else {})}
    return Message(
        data=data,
        features=[
            Features(counts, FEATURE_TYPE_SENTENCE, TEXT, "CountVectorsFeaturizer"),
            Features(
                sp.coo_matrix((len(words), len(VOCABULARY))), FEATURE_TYPE_SEQUENCE, TEXT, "CountVectorsFeaturizer"
            ),
        ],
    )


def training_data() -> TrainingData:
    rows = [
        (["pothole", "road"], "report_problem"),
        (["pothole"], "report_problem"),
        (["road", "pothole", "road"], "report_problem"),
        (["gas", "smell"], "emergency_gas_smell"),
        (["smell", "gas", "gas"], "emergency_gas_smell"),
        (["gas"], "emergency_gas_smell"),
        (["hello"], "greet"),
        (["hi"], "greet"),
        (["hello", "hi"], "greet"),
    ]
    return TrainingData([message(words, intent) for words, intent in rows])


def test_trains_predicts_and_reloads_without_pickle(tmp_path: Path) -> None:
    (tmp_path / "storage").mkdir()
    storage = LocalModelStorage(tmp_path / "storage")
    resource = Resource("intent_classifier")
    context = ExecutionContext(GraphSchema({}), "test")
    config = {**LinearIntentClassifier.get_default_config(), "epochs": 30}

    classifier = LinearIntentClassifier.create(config, storage, resource, context)
    classifier.train(training_data())
    [gas] = classifier.process([message(["smell", "gas"])])

    assert gas.get(INTENT)["name"] == "emergency_gas_smell"
    ranking = gas.get("intent_ranking")
    assert [r["name"] for r in ranking][0] == "emergency_gas_smell"
    assert abs(sum(r["confidence"] for r in ranking) - 1.0) < 1e-6

    reloaded = LinearIntentClassifier.load(config, storage, resource, context)
    [again] = reloaded.process([message(["smell", "gas"])])
    assert np.isclose(again.get(INTENT)["confidence"], gas.get(INTENT)["confidence"])

    with storage.read_from(resource) as directory:
        stored = sorted(p.name for p in directory.iterdir())
        assert stored == ["linear_intent_classifier.json", "linear_intent_classifier.npz"]
        with zipfile.ZipFile(directory / "linear_intent_classifier.npz") as arrays:
            assert all(name.endswith(".npy") for name in arrays.namelist())
        np.load(directory / "linear_intent_classifier.npz", allow_pickle=False)  # plain arrays only


def test_an_untrained_model_leaves_messages_alone(tmp_path: Path) -> None:
    storage = LocalModelStorage(tmp_path / "storage")
    context = ExecutionContext(GraphSchema({}), "test")
    classifier = LinearIntentClassifier.load({}, storage, Resource("missing"), context)

    [untouched] = classifier.process([message(["pothole"])])

    assert untouched.get(INTENT) is None


# "I don't know": temperature and threshold chosen from held-out folds of the training data (issue 14)

# Intent k's own words are w(5k)..w(5k+4), any of w0..w34 may come as noise, and w35..w39 are never in training.
WORDS = [f"w{i}" for i in range(40)]


def word_message(words: list[str], intent: str | None = None) -> Message:
    counts = sp.coo_matrix([[words.count(w) for w in WORDS]])
    data = {TEXT: " ".join(words), **({INTENT: intent} if intent else {})}
    return Message(
        data=data,
        features=[
            Features(counts, FEATURE_TYPE_SENTENCE, TEXT, "CountVectorsFeaturizer"),
            Features(sp.coo_matrix((len(words), len(WORDS))), FEATURE_TYPE_SEQUENCE, TEXT, "CountVectorsFeaturizer"),
        ],
    )


def synthetic(noise: float, per_intent: int = 15, intents: int = 4, seed: int = 0) -> TrainingData:
    """Examples of four words each, drawn from the intent's own words, or with probability noise from any word."""
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(intents):
        for _ in range(per_intent):
            words = [
                WORDS[int(rng.integers(35))] if rng.random() < noise else WORDS[5 * k + int(rng.integers(5))]
                for _ in range(4)
            ]
            rows.append(word_message(words, f"intent_{k}"))
    return TrainingData(rows)


def trained(tmp_path: Path, data: TrainingData, **config: object) -> LinearIntentClassifier:
    (tmp_path / "storage").mkdir(parents=True)
    storage = LocalModelStorage(tmp_path / "storage")
    context = ExecutionContext(GraphSchema({}), "test")
    classifier = LinearIntentClassifier.create(
        {**LinearIntentClassifier.get_default_config(), **config}, storage, Resource("intents"), context
    )
    classifier.train(data)
    return classifier


def test_the_threshold_follows_the_training_data(tmp_path: Path) -> None:
    distinct = trained(tmp_path / "a", synthetic(noise=0.1))
    confused = trained(tmp_path / "b", synthetic(noise=0.7))

    # A bot whose held-out examples are often misread needs more answerability before it answers.
    assert 0.0 < distinct.threshold < confused.threshold < 1.0
    assert distinct.temperature != confused.temperature


def test_a_dearer_wrong_answer_raises_the_threshold(tmp_path: Path) -> None:
    data = synthetic(noise=0.5)
    lenient = trained(tmp_path / "a", data, wrong_answer_cost=1.5)
    strict = trained(tmp_path / "b", data, wrong_answer_cost=5.0)

    assert lenient.threshold < strict.threshold


def test_costs_must_make_a_fallback_cheaper_than_a_wrong_answer(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="fallback_cost"):
        trained(tmp_path, synthetic(noise=0.1), fallback_cost=2.0, wrong_answer_cost=2.0)


def test_text_unlike_the_training_data_falls_back_and_keeps_the_ranking(tmp_path: Path) -> None:
    classifier = trained(tmp_path, synthetic(noise=0.1))

    # w35..w39 were never seen in training; an empty message has no features at all
    unknown, empty, known = classifier.process(
        [word_message(["w37", "w38", "w39"]), word_message([]), word_message(["w0", "w1", "w2", "w3"])]
    )

    for message in (unknown, empty):
        assert message.get(INTENT) == {"name": "nlu_fallback", "confidence": classifier.threshold}
        ranking = message.get("intent_ranking")
        assert ranking[0]["name"] == "nlu_fallback"
        assert sorted(r["name"] for r in ranking[1:]) == [f"intent_{k}" for k in range(4)]
    assert known.get(INTENT)["name"] == "intent_0"
    assert known.get(INTENT)["confidence"] > 0.5


def test_a_reloaded_model_answers_and_falls_back_alike(tmp_path: Path) -> None:
    classifier = trained(tmp_path, synthetic(noise=0.5))
    reloaded = LinearIntentClassifier.load(
        classifier.config, classifier._model_storage, classifier._resource, ExecutionContext(GraphSchema({}), "test")
    )
    queries = synthetic(noise=0.6, per_intent=10, seed=1).training_examples + [word_message(["w39"])]
    for message in queries:
        message.data.pop(INTENT, None)

    first = [
        m.get("intent_ranking")
        for m in classifier.process([Message(data=dict(m.data), features=m.features) for m in queries])
    ]
    again = [m.get("intent_ranking") for m in reloaded.process(queries)]

    assert (reloaded.threshold, reloaded.temperature) == (classifier.threshold, classifier.temperature)
    assert [[r["name"] for r in ranking] for ranking in again] == [[r["name"] for r in ranking] for ranking in first]
    assert np.allclose([r[0]["confidence"] for r in again], [r[0]["confidence"] for r in first])
    assert any(r[0]["name"] == "nlu_fallback" for r in again)  # the comparison covers fallbacks too
