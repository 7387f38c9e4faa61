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
