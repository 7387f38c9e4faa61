"""The emergency gate (bot/components/emergency_gate.py): an emergency intent stands only with emergency words."""

from __future__ import annotations

import pytest

pytest.importorskip("rasa")

from rasa.engine.graph import ExecutionContext, GraphSchema  # noqa: E402
from rasa.engine.storage.local_model_storage import LocalModelStorage  # noqa: E402
from rasa.engine.storage.resource import Resource  # noqa: E402
from rasa.shared.nlu.constants import INTENT, TEXT  # noqa: E402
from rasa.shared.nlu.training_data.message import Message  # noqa: E402

from bot.components.emergency_gate import GATE_KEY, EmergencyGate, evidence  # noqa: E402


def parsed(text: str, ranking: list[tuple[str, float]]) -> Message:
    message = Message(data={TEXT: text})
    entries = [{"name": name, "confidence": confidence} for name, confidence in ranking]
    message.set(INTENT, entries[0], add_to_output=True)
    message.set("intent_ranking", entries, add_to_output=True)
    return message


@pytest.fixture()
def gate(tmp_path) -> EmergencyGate:  # type: ignore[no-untyped-def]
    storage = LocalModelStorage(tmp_path)
    return EmergencyGate.create({}, storage, Resource("gate"), ExecutionContext(GraphSchema({}), "test"))


def test_a_routine_report_read_as_an_emergency_becomes_a_report(gate: EmergencyGate) -> None:
    message = parsed(
        "pothole on the bridge deck, not huge yet but growing",
        [("emergency_sinkhole", 0.6), ("report_problem", 0.3), ("ask_question", 0.1)],
    )
    [message] = gate.process([message])
    assert message.get(INTENT) == {"name": "report_problem", "confidence": pytest.approx(0.9)}
    assert [entry["name"] for entry in message.get("intent_ranking")] == ["report_problem", "ask_question"]
    assert message.get(GATE_KEY) == {"set_aside": "emergency_sinkhole", "confidence": 0.6}
    assert message.as_dict_nlu()[GATE_KEY]["set_aside"] == "emergency_sinkhole"


@pytest.mark.parametrize(
    ("intent", "text"),
    [
        ("emergency_sinkhole", "the road just caved in in front of my house"),
        ("emergency_gas_smell", "strong smell of gas in our kitchen"),
        ("emergency_flooding", "water is coming into the basement and still rising"),
        ("emergency_water_main_break", "water gushing out of the road on Birch Ave"),
        ("emergency_downed_lines", "power lines down across Concession 4"),
        ("emergency_fire", "the garage next door is on fire"),
        ("emergency_chemical_spill", "diesel spilled all over the road and into the ditch"),
        ("emergency_outbreak", "half the residents at the care home are vomiting"),
        # a gas smell read as another emergency is still an emergency
        ("emergency_flooding", "I smell gas near the meter"),
    ],
)
def test_an_emergency_with_its_words_stands(gate: EmergencyGate, intent: str, text: str) -> None:
    [message] = gate.process([parsed(text, [(intent, 0.8), ("report_problem", 0.2)])])
    assert message.get(INTENT)["name"] == intent
    assert message.get(GATE_KEY) is None


def test_a_negated_cue_is_no_evidence() -> None:
    assert evidence("emergency_flooding", "big puddle, not flooding anything though") is None
    assert evidence("emergency_flooding", "the street is flooding") == "flooding"
    assert evidence("emergency_gas_smell", "no smell of gas any more, just the gas station sign is out") is None


def test_other_intents_pass_untouched(gate: EmergencyGate) -> None:
    message = parsed("a hole in the road", [("report_problem", 0.7), ("emergency_sinkhole", 0.3)])
    [message] = gate.process([message])
    assert message.get(INTENT) == {"name": "report_problem", "confidence": 0.7}
    assert [entry["name"] for entry in message.get("intent_ranking")] == ["report_problem", "emergency_sinkhole"]
