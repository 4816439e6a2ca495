"""Property-based API tests generated from the served OpenAPI schema (schemathesis):
no 5xx, responses conform to the documented status codes, media types and schemas.

Examples per operation: OWNFACE_SCHEMATHESIS_EXAMPLES (default 150: 14 operations, about
2,000 requests, under a minute here); bench/ runs the big count.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.server.conftest import ORIGIN, add_site, make_app, make_settings

EXAMPLES = int(os.environ.get("OWNFACE_SCHEMATHESIS_EXAMPLES", "150"))
_DIR = Path(tempfile.mkdtemp(prefix="ownface-schemathesis-"))
_URL = f"sqlite:///{_DIR / 'ownface.db'}"
_TOKEN = add_site(_URL)
APP = make_app(make_settings(_DIR, _URL))
schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", APP)
CALLS: list[int] = []


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms(case: schemathesis.Case) -> None:
    headers = {"Origin": ORIGIN}
    if case.path.endswith("/audit"):
        headers["Authorization"] = f"Bearer {_TOKEN}"
    response = case.call_and_validate(headers=headers)
    CALLS.append(response.status_code)
    assert response.status_code < 500
