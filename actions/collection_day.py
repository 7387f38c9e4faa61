"""The collection day by address: "when is garbage day on 45 Oak Avenue in Pinecrest?" (collection_form).

The core owns the zone table and the words of the answer (`GET /api/v1/collection-day`); this module only
decides whether the resident has given an address yet, asks for one if not, and shows the core's answer,
with a button per municipality when a street is in more than one.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import parsing
from actions.asks import Ask
from actions.clients.core import CoreAPIError, CoreClient
from actions.forms import TaskFormValidation, rejected

logger = logging.getLogger(__name__)

ADDRESS_SLOT = "collection_address"
# The address travels in this entity on the buttons offered for a street in two municipalities.
ADDRESS_ENTITY = "collection_address"
MAX_ADDRESS_CHARS = 300  # the core's limit for an address (civicdesk.limits, "address")

ADDRESS_HELP = "Please type the house number and street, and your town, for example: 45 Oak Avenue, Pinecrest."
UNAVAILABLE = (
    "Sorry, I can't reach the collection calendar right now. You can look up your address at "
    "https://www.northvale.ca/waste/collection-day, or call Northvale Service First at 311 "
    "(905-555-0100 from outside the region), Monday to Friday, 8:00 a.m. to 6:00 p.m."
)


class AskCollectionAddress(Ask):
    # An action rather than an utter_ask_ response, as in actions/asks.py (rasa data validate).
    def name(self) -> str:
        return "action_ask_collection_address"

    text = (
        "I can look up your collection day. What is your street address? Please include the house number and "
        "the town, for example: 45 Oak Avenue, Pinecrest."
    )


class ValidateCollectionForm(TaskFormValidation):
    def name(self) -> str:
        return "validate_collection_form"

    def validate_collection_address(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Keep the text if it holds a house number and a street; the core reads the rest (the town)."""
        text = parsing.clean(str(value or ""))
        if text and not parsing.is_payload(text) and parsing.CIVIC_RE.search(text):
            return {ADDRESS_SLOT: text[:MAX_ADDRESS_CHARS]}
        if self.first_turn(tracker, domain):
            # "When is bin day?": no address yet, so the form asks for it (utter_ask_collection_address).
            return {ADDRESS_SLOT: None}
        dispatcher.utter_message(text=ADDRESS_HELP)
        return rejected(ADDRESS_SLOT)


class ActionCollectionDay(Action):
    def name(self) -> str:
        return "action_collection_day"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        address = tracker.get_slot(ADDRESS_SLOT)
        done: list[EventType] = [SlotSet(ADDRESS_SLOT, None)]
        if not address:
            dispatcher.utter_message(text=ADDRESS_HELP)
            return done
        try:
            found = await CoreClient.from_env().collection_day(str(address))
        except CoreAPIError as exc:
            # The details (not the resident's address) go to the log; the resident gets the other ways to look up.
            logger.warning("collection day look-up failed: %s", exc)
            dispatcher.utter_message(text=UNAVAILABLE)
            return done
        except Exception:
            # A bug of ours must not leave the resident without a reply.
            logger.exception("collection day look-up failed unexpectedly")
            dispatcher.utter_message(text=UNAVAILABLE)
            return done
        buttons = [_choice(found.address, municipality) for municipality in found.choices]
        dispatcher.utter_message(text=found.message, buttons=buttons)
        return done


def _choice(address: str, municipality: str) -> dict[str, str]:
    # The payload bypasses NLU: the intent is known and the address, with the town chosen, travels as an entity.
    entities = json.dumps({ADDRESS_ENTITY: f"{address}, {municipality}"})
    return {"title": municipality, "payload": f"/ask_collection_day{entities}"}
