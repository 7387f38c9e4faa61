"""Fact questions asked through the real chat: the widget's WebSocket, the core's gateway, Rasa and the action server.

    .venv/bin/python bench/kb_chat.py [--set blind|dev|both] [--misses] [--rasa-url URL]

Starts a scratch core (`civicdesk serve`, a seeded SQLite file of its own), the Rasa server with the trained model
(`civicdesk rasa`, about a minute to load) unless --rasa-url names a running one, and the action server
(`civicdesk actions`), with bench/chat_latency.py's helpers. Each question is typed into a fresh conversation, as a
resident opening the widget would; the assistant's replies to it are read from the socket.

A reply holds the answer when the assistant's text holds every fact string of the question (case-insensitive,
whitespace-normalised: civicdesk.knowledge.passages.holds, the comparison bench/kb_search.py uses on the search
alone). The other replies are counted by what they were: an answer from the right article without the fact, an
answer from another article, articles offered to choose from, nothing found, not understood, referred to another
organization, out of scope, Service First's own contact details, a handoff, or something else.

Sets: `blind` is nlu_data/eval/kb_facts.jsonl (fields question, article, fact[]), written by someone who did not
write the articles; only the aggregates are printed, never its questions or replies, and nothing is tuned on it.
`dev` is tests/app/data/kb_fact_dev.yaml, the development set the answer passages were chosen on; --misses lists
its misses. Target (issue 15): the reply holds the fact for >= 90% of the blind questions. Exit status 1 below it.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import secrets
import signal
import tempfile
from pathlib import Path
from typing import Any

import yaml
from chat_latency import free_port, start, wait_up
from websockets.asyncio.client import ClientConnection, connect

from civicdesk import migrate
from civicdesk.catalogue import seed
from civicdesk.db import make_engine, make_session_factory, transaction
from civicdesk.knowledge.passages import holds
from civicdesk.seed_schema import load_seed
from civicdesk.settings import PROJECT_ROOT

BLIND = PROJECT_ROOT / "nlu_data" / "eval" / "kb_facts.jsonl"
DEV = PROJECT_ROOT / "tests" / "app" / "data" / "kb_fact_dev.yaml"
DOMAIN = PROJECT_ROOT / "bot" / "domain"
TARGET = 0.90
TURN_SECONDS = 30.0  # the slowest turn (a cold policy, a cold action) stays well under this
SETTLE_SECONDS = 0.8  # the replies of one turn are pushed together; quiet this long means the turn is over

# What the assistant's other replies were, by the response (bot/domain) or action text they start with.
RESPONSES = {
    "not understood": ("utter_default",),
    "handoff": ("utter_handoff", "utter_handoff_not_understood"),
    "out of scope": ("utter_out_of_scope",),
    "Service First's contact details": ("utter_contact_info",),
}
ACTION_TEXTS = {  # actions/knowledge.py and actions/referrals.py
    "articles offered to choose from": ("I found a few articles that might help",),
    "nothing found": ("Sorry, I couldn't find an answer to that in our knowledgebase",),
    "referred to another organization": ("That may be handled by another organization", "That isn't handled by"),
}


def load(which: str) -> list[dict[str, Any]]:
    if which == "blind":
        entries = [json.loads(line) for line in BLIND.read_text(encoding="utf-8").splitlines() if line.strip()]
    else:
        entries = yaml.safe_load(DEV.read_text(encoding="utf-8"))
    for number, entry in enumerate(entries, 1):
        if not (isinstance(entry.get("question"), str) and isinstance(entry.get("fact"), list) and entry["fact"]):
            raise SystemExit(f"{which} set, entry {number}: needs a question and a non-empty fact list")
    return entries


def response_openings() -> dict[str, list[str]]:
    """The opening words of each response the replies are sorted by (up to a variable, if any)."""
    responses: dict[str, Any] = {}
    for path in sorted(DOMAIN.glob("*.yml")):
        responses.update((yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("responses") or {})
    openings: dict[str, list[str]] = {kind: list(texts) for kind, texts in ACTION_TEXTS.items()}
    for kind, names in RESPONSES.items():
        for name in names:
            for variant in responses[name]:
                openings.setdefault(kind, []).append(" ".join(variant["text"].split("{")[0].split())[:60])
    return openings


def sort_reply(entry: dict[str, Any], texts: list[str], urls: dict[str, str], openings: dict[str, list[str]]) -> str:
    said = "\n".join(texts)
    if holds(said, entry["fact"]):
        return "holds the facts"
    given = [slug for slug, url in urls.items() if url in said]
    if entry.get("article") in given:
        return "answered from the right article, facts missing"
    if given:
        return "answered from another article"
    flat = [" ".join(text.split()) for text in texts]
    for kind, starts in openings.items():
        if any(text.startswith(start) for text in flat for start in starts):
            return kind
    if any("in the queue" in text for text in flat):
        return "handoff"
    return "something else"


async def turn(socket: ClientConnection, text: str) -> list[str]:
    """Send one message and return the texts of everything the assistant or the core said back."""
    await socket.send(json.dumps({"type": "message", "text": text}))
    texts: list[str] = []
    timeout = TURN_SECONDS
    while True:
        try:
            data = json.loads(await asyncio.wait_for(socket.recv(), timeout))
        except TimeoutError:
            return texts
        if data["type"] == "message" and data.get("author") != "resident":
            texts.append(str(data.get("text") or ""))
            timeout = SETTLE_SECONDS
        elif data["type"] == "error":
            raise RuntimeError(data["message"])


async def ask(core_ws: str, entries: list[dict[str, Any]]) -> list[list[str]]:
    replies = []
    for entry in entries:
        async with connect(f"{core_ws}/chat/ws") as socket:  # a fresh conversation per question
            json.loads(await socket.recv())  # the conversation
            replies.append(await turn(socket, entry["question"]))
    return replies


def report(name: str, entries: list[dict[str, Any]], replies: list[list[str]], misses: bool) -> float:
    urls = {article.slug: article.url for article in load_seed(PROJECT_ROOT / "civicdesk" / "seed_data").articles}
    openings = response_openings()
    kinds = [sort_reply(entry, texts, urls, openings) for entry, texts in zip(entries, replies, strict=True)]
    counts = collections.Counter(kinds)
    share = counts["holds the facts"] / len(entries)
    print(f"{name}: {len(entries)} questions, the reply holds the facts {counts['holds the facts']} = {share:.1%}")
    for kind, count in counts.most_common():
        if kind != "holds the facts":
            print(f"  {kind}: {count}")
    if misses:
        for entry, texts, kind in zip(entries, replies, kinds, strict=True):
            if kind != "holds the facts":
                print(f"\n  MISS ({kind}) {entry['question']!r} wants {entry['fact']}\n    " + "\n    ".join(texts))
    return share


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", choices=["blind", "dev", "both"], default="blind", dest="which")
    parser.add_argument("--misses", action="store_true", help="list the development set's misses with the replies")
    parser.add_argument("--rasa-url", default="", help="a running Rasa server; empty: start one")
    args = parser.parse_args()
    sets = ["dev", "blind"] if args.which == "both" else [args.which]
    loaded = {which: load(which) for which in sets}
    with tempfile.TemporaryDirectory(prefix="kb-chat-bench-") as scratch:
        folder = Path(scratch)
        database_url = f"sqlite:///{folder / 'civicdesk.db'}"
        migrate.upgrade(database_url)
        engine = make_engine(database_url)
        with transaction(make_session_factory(engine)) as session:
            seed.load(session)
        engine.dispose()
        port, rasa_url = free_port(), args.rasa_url or f"http://127.0.0.1:{free_port()}"
        actions_url = f"http://127.0.0.1:{free_port()}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("CIVICDESK_")}
        env.update(
            CIVICDESK_ENV="test",
            CIVICDESK_VAR_DIR=str(folder),
            CIVICDESK_MODELS_DIR=os.environ.get("CIVICDESK_MODELS_DIR") or str(PROJECT_ROOT / "var" / "models"),
            CIVICDESK_PORT=str(port),
            CIVICDESK_RASA_URL=rasa_url,
            CIVICDESK_ACTION_SERVER_URL=actions_url,
            CIVICDESK_SECRET_KEY=secrets.token_urlsafe(32),
            CIVICDESK_ACTIONS_TOKEN=secrets.token_urlsafe(32),
            CIVICDESK_CHAT_MESSAGES_PER_MINUTE="100000",  # one bench "resident" asks many questions a minute
            CIVICDESK_CHAT_MESSAGES_PER_ADDRESS_PER_MINUTE="100000",
            CIVICDESK_CHAT_CONVERSATIONS_PER_ADDRESS_PER_MINUTE="100000",
            CIVICDESK_LOG_LEVEL="WARNING",
        )
        processes = [start("serve", env, folder / "serve.log"), start("actions", env, folder / "actions.log")]
        if not args.rasa_url:
            processes.append(start("rasa", env, folder / "rasa.log"))
        try:
            core = f"http://127.0.0.1:{port}"
            wait_up(core + "/widget.js", processes[0], 60, folder / "serve.log")
            wait_up(actions_url + "/health", processes[1], 120, folder / "actions.log")
            if not args.rasa_url:
                print("waiting for Rasa to load the model...", flush=True)
                wait_up(rasa_url + "/", processes[2], 900, folder / "rasa.log")  # slow on a busy machine
            shares = {}
            for which, entries in loaded.items():
                replies = asyncio.run(ask(core.replace("http://", "ws://"), entries))
                path = (BLIND if which == "blind" else DEV).relative_to(PROJECT_ROOT)
                shares[which] = report(f"{which} ({path})", entries, replies, args.misses and which == "dev")
        finally:
            for process in processes:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=60)
    print(f"target: the reply holds the facts for >= {TARGET:.0%} of the blind questions")
    raise SystemExit(1 if shares.get("blind", 1.0) < TARGET else 0)


if __name__ == "__main__":
    main()
