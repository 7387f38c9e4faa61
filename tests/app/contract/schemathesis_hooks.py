"""Schemathesis hooks for test_schemathesis.py, loaded through SCHEMATHESIS_HOOKS: test data the schema cannot
supply, so generated requests also reach the code behind the checks. Some generated bodies get a service code
from the catalogue (CIVICDESK_TEST_SERVICE_CODES), and some Open311 POSTs the real api_key
(CIVICDESK_TEST_OPEN311_KEY); the others stay as generated."""

from __future__ import annotations

import os
from typing import Any

import schemathesis
from hypothesis import strategies as st


@schemathesis.hook
def flatmap_body(context: schemathesis.HookContext, body: Any) -> st.SearchStrategy[Any]:
    """Half the POST bodies with a service_code get a real one; half the Open311 POSTs the real api_key."""
    operation = context.operation
    strategy: st.SearchStrategy[Any] = st.just(body)
    if operation is None or operation.method.upper() != "POST" or not isinstance(body, dict):
        return strategy
    if "service_code" in body:
        codes = os.environ["CIVICDESK_TEST_SERVICE_CODES"].split(",")
        strategy = st.one_of(strategy, st.sampled_from(codes).map(lambda code: {**body, "service_code": code}))
    if operation.path.startswith("/open311/"):
        key = os.environ["CIVICDESK_TEST_OPEN311_KEY"]
        strategy = st.one_of(strategy, strategy.map(lambda given: {**given, "api_key": key}))
    return strategy
