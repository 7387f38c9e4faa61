"""Every action the domain names is served by the action server, under that name."""

from __future__ import annotations

from pathlib import Path

import yaml
from rasa_sdk.executor import ActionExecutor


def test_every_custom_action_in_the_domain_is_registered() -> None:
    named: set[str] = set()
    for path in (Path(__file__).resolve().parents[2] / "bot" / "domain").glob("*.yml"):
        named.update(yaml.safe_load(path.read_text(encoding="utf-8")).get("actions") or [])
    executor = ActionExecutor()
    executor.register_package("actions")

    assert named <= set(executor.actions), sorted(named - set(executor.actions))
    assert all(name.startswith(("action_", "validate_")) for name in executor.actions)
