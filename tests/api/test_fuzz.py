"""Schemathesis fuzzes every operation of the OpenAPI schema as an admin: no 5xx anywhere."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from tests.api.conftest import FakeClock, fresh_db_url, start_api

ADMIN: dict[str, str] = {}  # the admin's bearer header, set by the fixture


@pytest.fixture
def fuzz_schema(tmp_path):
    gen = start_api(fresh_db_url("sqlite", tmp_path), FakeClock(), rate_per_s=1e6, rate_burst=1e6)
    api = next(gen)
    schema = schemathesis.from_asgi("/openapi.json", api.client.app, force_schema_version="30")
    ADMIN.clear()
    ADMIN.update(api.as_("admin"))
    yield schema
    gen.close()


schema = schemathesis.from_pytest_fixture("fuzz_schema")


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case):
    response = case.call(headers={**(case.headers or {}), **ADMIN})
    case.validate_response(response, checks=(not_a_server_error,))
