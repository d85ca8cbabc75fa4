"""The API is a contract too: schemathesis generates requests from the OpenAPI schema the app
publishes and sends them to a live `dsc serve`; no answer may be a server error or violate the
schema (status codes, content types, bodies). Each generated signed request is sent as it was
generated (refused: unsigned, unknown agent, ...) and again re-signed by a registered agent, so
that its random parameters reach the escrow's handlers. Bounded: a few examples per route."""

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from datastation.runtime.keys import make_request
from serving import Served

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
ACTIONS = {
    "/v1/agents/register": "agent.register", "/v1/data/remove": "data.remove",
    "/v1/contracts/propose": "contract.propose", "/v1/contracts/approve": "contract.approve",
    "/v1/contracts/propose_many": "contract.propose_many", "/v1/contracts/approve_many": "contract.approve_many",
    "/v1/contracts/reject": "contract.reject", "/v1/contracts/revoke": "contract.revoke",
    "/v1/contracts/execute": "contract.execute", "/v1/policies/apply": "policy.apply",
    "/v1/contracts/list": "read.contracts", "/v1/contracts/status": "read.status",
    "/v1/contracts/summary": "read.summary", "/v1/contracts/graph": "read.graph", "/v1/data/list": "read.data", "/v1/policies/mine": "read.policy",
    "/v1/audit/entries": "read.audit", "/v1/results/fetch": "result.fetch",
}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    s = Served(tmp_path_factory.mktemp("fuzz") / "site", "  max_request_bytes: 262144\n  max_upload_bytes: 262144\n")
    alice = s.agent("alice")
    yield s, alice
    s.stop()


def test_every_route_is_in_the_schema_with_its_errors(site):
    import httpx

    doc = httpx.get(site[0].url + "/openapi.json").json()
    assert set(ACTIONS) | {"/v1/escrow", "/v1/data/upload"} == set(doc["paths"])
    for path, methods in doc["paths"].items():
        for op in methods.values():
            assert {"401", "403", "404", "409", "413", "422", "500"} <= set(op["responses"]), path


def test_no_server_error_and_no_schema_violation(site):
    """Every operation, a bounded number of generated cases (the pytest plugin of schemathesis
    does not run on this pytest: the cases are drawn with hypothesis directly)."""
    served, alice = site
    api = schemathesis.openapi.from_url(served.url + "/openapi.json")
    operations = [r.ok() for r in api.get_all_operations()]
    assert len(operations) == len(ACTIONS) + 2
    for op in operations:

        @given(case=op.as_strategy())
        @settings(max_examples=12, deadline=None, database=None, suppress_health_check=list(HealthCheck),
                  phases=[Phase.explicit, Phase.generate])
        def check(case):
            case.call_and_validate(base_url=served.url, checks=CHECKS)
            action = ACTIONS.get(case.path)
            body = case.body if isinstance(case.body, dict) else None
            env = body.get("envelope") if body else None
            if action and isinstance(env, dict) and isinstance(env.get("params"), dict):
                req = make_request("alice", alice._private_key(), action, env["params"], escrow=alice.escrow_id)
                case.body = {"envelope": req.envelope, "signature": req.signature}
                case.call_and_validate(base_url=served.url, checks=CHECKS)

        check()
