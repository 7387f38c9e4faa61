"""Anonymous Open311 listing (GET /open311/v2/requests.json) over requests with long descriptions.

    .venv/bin/python bench/open311_listing.py [--requests 60] [--chars 4000] [--shape run|words] [--repeat 15]

Files N requests in a scratch SQLite database (migrated and seeded), each with a description of --chars
characters: `run` is one run without spaces or '@' (the worst case for a pattern that backtracks), `words` ordinary
words. Then prints the median and slowest time of an anonymous listing, the app in-process under a test client.
Issue 17 measured 2-3 s for 60 descriptions of 4,000 characters before Open311's email pattern was fixed.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from civicdesk import migrate
from civicdesk.app import create_app
from civicdesk.catalogue import seed
from civicdesk.db import make_engine, make_session_factory, transaction
from civicdesk.service_requests.service import RequestIn, create_request
from civicdesk.settings import Settings

SECRET = "bench-only-secret-of-at-least-32-characters"


def description(chars: int, shape: str, number: int) -> str:
    if shape == "run":
        return (f"{number}-" + "a" * chars)[:chars]
    return (f"Request {number}: the pothole on the corner is getting deeper every week. " * chars)[:chars]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--chars", type=int, default=4000, help="characters in each description")
    parser.add_argument("--shape", choices=("run", "words"), default="run")
    parser.add_argument("--repeat", type=int, default=15, help="listings timed")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{Path(scratch) / 'listing.db'}"
        migrate.upgrade(url)
        engine = make_engine(url)
        with transaction(make_session_factory(engine)) as session:
            seed.load(session)
            for number in range(args.requests):
                given = RequestIn(
                    service_code="graffiti",
                    description=description(args.chars, args.shape, number),
                    channel="chat",
                    address="King St W and Mill St, Harlow Falls",
                    attributes={"surface": "bus_shelter", "offensive": "no"},
                )
                create_request(session, given, actor="bench")
        engine.dispose()
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            env="test",
            database_url=url,
            var_dir=Path(scratch) / "var",
            secret_key=SECRET,
            actions_token=SECRET,
        )
        client = TestClient(create_app(settings))
        first = client.get("/open311/v2/requests.json")
        assert first.status_code == 200 and len(first.json()) == args.requests, first.text[:300]
        times = []
        for _ in range(args.repeat):
            began = time.perf_counter()
            client.get("/open311/v2/requests.json").raise_for_status()
            times.append(time.perf_counter() - began)
    print(
        f"{args.requests} requests x {args.chars:,} characters ({args.shape}): anonymous GET requests.json "
        f"median {statistics.median(times) * 1000:.0f} ms, slowest {max(times) * 1000:.0f} ms "
        f"over {args.repeat} listings"
    )


if __name__ == "__main__":
    main()
