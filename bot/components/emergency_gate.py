"""Emergency intents need emergency words: a routine report ("a hole in the road") is not a sinkhole.

The intent classifier learns the emergencies from words they share with routine reports (a hole, water, a
spill, something lying across the road), so it reads some routine reports as emergencies, and a false
emergency frightens the resident and jumps the agents' queue. This component, placed after the intent
classifier, keeps an emergency intent only when the message says what makes it one: gas, flames, live wires,
a collapse, water gushing or rising in a home, a substance spreading, people falling ill. Otherwise the
message is a problem to report: the emergency's confidence moves to report_problem and the parse says which
emergency was set aside (`emergency_gate`), so nothing is hidden from the agent who later reads it.

The cues are written from what each emergency is (nlu_data/chat/emergencies.yml and the emergency replies in
bot/domain/emergencies.yml), not from any evaluation set. A cue right after a negation ("not flooding
anything") is no evidence. Cues of one emergency count for another (a gas smell read as a fire is still an
emergency), so a wrong emergency type is never turned into a routine report.
"""

from __future__ import annotations

import re
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

EMERGENCY_PREFIX = "emergency_"
ROUTINE_INTENT = "report_problem"
GATE_KEY = "emergency_gate"

# What makes each emergency one. Word stems are matched at a word start, case-insensitively.
CUES: dict[str, str] = {
    "emergency_gas_smell": (
        r"gas\b(?!\s*(station|bill|price|powered|mower|blower|can|tank))|gass|propane|rotten eggs?|mercaptan|"
        r"carbon monoxide|co (alarm|detector|monitor)|hissing"
    ),
    "emergency_fire": (
        r"\w*fires?\b(?!\s*(hydrant|station|hall|department|route|lane|pit|works))|on fire|flames?|burning|"
        r"ablaze|blaze|fir\b(?!\s*trees?)|engulfed|smoke\b|smoking|explo(ded|sion)"
    ),
    "emergency_flooding": (
        r"fl(o+|u+)d\w*|under ?water|submerged|sewage|sewer (has )?back\w* up|back(ed|ing)? up|basement|"
        r"overflow\w*|ris(es|ing)\b|pour\w*|gush\w*|rush\w*|stream\w*|spew\w*|erupt\w*|bubbling|shooting up|"
        r"(the|a) (river|creek|lake|pond) (is|has)|(is|into|like) a (river|lake|pond)|floodwater|floating|swept|"
        r"stranded|taking on water|filling (up )?with|(coming|came) (under|in|into)|washing over|into the houses|"
        r"broke through|over the floor|sandbags|"
        r"(coming|comes|came|leaking) (in|into|up|through|over)|(inches|feet|foot|cm) of|up to (my|our|the) \w+|"
        r"to (my|our|their) (knees|ankles|waist)|over (its|the) banks|jumped its banks|swimming pool|"
        r"water is everywhere|"
        r"(water|it) (is |'s )?(getting|coming|comin|comes) (in|into|up|over|from|right)|so deep"
    ),
    "emergency_water_main_break": (
        r"gush\w*|spraying|spurt\w*|blast\w*|erupt\w*|explod\w*|geyser|burst|busted|brk|"
        r"water ?-?main|(the|a) main (on|under|in|has|is|just)|main (break|broke|burst|blew)|"
        r"(pipe|main|hydrant) (has |is )?(broke|broken|burst|busted|blew|cracked)|pressure|pour\w*|shooting|"
        r"fountain|torrent|waterfall|river of|like a river|(is|into) a river|stream\w*|bubbl\w*|seep\w*|"
        r"(rushing|running|flowing|pushing|boiling) (out|up|down|across|from)|coming (out|up) of|"
        r"leak\w* (a lot|like)|(big|huge|major) (water )?leak|water (is )?(everywhere|running|flowing)|"
        r"flood\w*|no water|lost water|taps?\b|out of the ground|leak in the road|coming up (from|out)|"
        r"full of water|broken pipe|blowing out|looks like a main"
    ),
    "emergency_chemical_spill": (
        r"spill\w*|(fuel|oil|diesel|gas|gasoline|chemical|tank|drum|tanker)s? (is |are )?(leak\w*|spill\w*)|"
        r"leak\w* (fuel|oil|diesel|gasoline|petrol|chemical\w*|something)|fuel|diesel|gasoline|petrol|oily|"
        r"oil (slick|sheen|in the|on the water|into)|chemical\w*|acid|fumes|hazmat|toxic|tanker|sheen|slick|"
        r"sludge|bleach|ammonia|chlorin\w*|pesticide|fertili[sz]er|solvent|thinner|antifreeze|dye\b|liquid|"
        r"drum\b|tote\b|paint (is )?(running|spreading|waste|into|in the|down)|dumping (\w+ )?(into|down)|"
        r"(into|down) the (creek|river|storm drain|drain|lake)|dead (fish|ducks|birds)|hydraulic|barrels?\b|"
        r"fluid|(motor|waste|heating|furnace) oil|oil (is )?(everywhere|all over|pouring|gushing|running|"
        r"floating|leaking)|(is |are |'re )?leaking (everywhere|out|all over)|something is leaking"
    ),
    "emergency_sinkhole": (
        r"sink ?-?ho\w*|collaps\w*|colaps\w*|cav(e|ed|es|ing) ?-?in|caving|gave way|give way|giving way|void|"
        r"wash(ed|es)? ?-?out|swallow\w*|fell (in|into|away|down)|falling (in|into|down)|sinking|sank|"
        r"(road|ground|pavement|street|lane) (has |have )?sunk|crater (opened|appeared)|sagging|drop(ped|ping|s)?\b|"
        r"undercut|undermined|cavity|see the bottom|gaping|pit\b|(slid|slides|sliding|slide) (down|away|into)|"
        r"slid and|landslide|mudslide|crumbl\w*|hole (\w+ ){0,2}(opened|opening|appeared)|opened up under|"
        r"ground opened|fall\w* (down )?into|where the road used to be|hanging over nothing|eaten (half|part)"
    ),
    "emergency_downed_lines": (
        r"wires?\b|(power|pwr|powr|hydro|high voltage|overhead) ?lines?|hydro (poles?|wires?)|cables?|spark\w*|"
        r"arcing|popping|live\b|electri\w*|transformer|poles?\b|crossarm|electrocut\w*|buzzing|"
        r"lines? (are |is )?(down|dangling|hanging|on the ground|across|snapped|sagging|lying|touching)|"
        r"(downed|snapped|down) (\w+ )?lines?|lines? (came|come|comes) down|ripped the lines"
    ),
    "emergency_outbreak": (
        r"sick|\bill\b|illness|vomit\w*|throwing up|diarrh\w*|food poisoning|outbr\w*|fever|rash\w*|hospital\w*|"
        r"symptoms|poison\w*|contaminat\w*|measles|norovirus|e\.? ?coli|salmonella|legionn?aire\w*|tuberculosis|"
        r"\btb\b|infect\w*|rabi(es|d)|bitten|bite\b|disease|flu\b|influenza|cough\w*|meningitis|chickenpox|"
        r"mumps|hepatitis|pneumonia|pertussis|scabies|strep\b|shigella|covid|cases\b|positive|stomach (bug|flu)|"
        r"going around|spreading|dead birds|needles?\b|syringes?"
    ),
}
# Cues that make any message an emergency, whichever emergency the classifier named.
UNMISTAKABLE = (
    r"(smell|smells|smelling|smelt|odou?r) (of )?(natural )?gas|gas (smell|leak)|on fire|flames|ablaze|sparking|"
    r"live wires?|"
    r"(power|hydro) lines? (are |is )?down|downed (power |hydro )?lines?|sink ?-?hole|caved ?-?in|"
    r"(road|ground) collapsed"
)
# A negation shortly before a cue ("not flooding anything", "no smell of gas any more") takes it away.
NEGATED = re.compile(r"\b(?:no|not|isn't|isnt|aren't|wasn't|never|without|nothing|none)\b(?:\W+\w+){0,2}\W*$", re.I)


def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(rf"\b(?:{pattern})", re.IGNORECASE)


COMPILED = {intent: _compile(pattern) for intent, pattern in CUES.items()}
COMPILED_UNMISTAKABLE = _compile(UNMISTAKABLE)


def evidence(intent: str, text: str) -> str | None:
    """The words that make `text` the emergency `intent` (or an unmistakable other one); None when there are none."""
    for pattern in (COMPILED.get(intent), COMPILED_UNMISTAKABLE):
        for match in pattern.finditer(text) if pattern is not None else ():
            if not NEGATED.search(text[max(0, match.start() - 40) : match.start()]):
                return match.group(0)
    return None


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class EmergencyGate(GraphComponent, IntentClassifier):
    @classmethod
    def required_components(cls) -> list[type]:
        return [IntentClassifier]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {}

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> EmergencyGate:
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            intent = message.get(INTENT) or {}
            name = intent.get(INTENT_NAME_KEY) or ""
            if name.startswith(EMERGENCY_PREFIX) and evidence(name, message.get(TEXT) or "") is None:
                self._demote(message, name)
        return messages

    @staticmethod
    def _demote(message: Message, emergency: str) -> None:
        """report_problem takes the emergency's confidence and the top of the ranking."""
        ranking = [dict(entry) for entry in message.get("intent_ranking") or []]
        moved = next((e[PREDICTED_CONFIDENCE_KEY] for e in ranking if e[INTENT_NAME_KEY] == emergency), 0.0)
        kept = [e for e in ranking if e[INTENT_NAME_KEY] not in (emergency, ROUTINE_INTENT)]
        routine = next((e[PREDICTED_CONFIDENCE_KEY] for e in ranking if e[INTENT_NAME_KEY] == ROUTINE_INTENT), 0.0)
        report = {INTENT_NAME_KEY: ROUTINE_INTENT, PREDICTED_CONFIDENCE_KEY: routine + moved}
        ranking = sorted([report, *kept], key=lambda e: -e[PREDICTED_CONFIDENCE_KEY])
        message.set(INTENT, report, add_to_output=True)
        message.set("intent_ranking", ranking, add_to_output=True)
        message.set(GATE_KEY, {"set_aside": emergency, "confidence": moved}, add_to_output=True)
