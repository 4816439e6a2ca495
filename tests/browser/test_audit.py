"""The network audit itself must catch what it is there to catch."""

from __future__ import annotations

import base64
import json

from pyapp import protocol
from tests.browser.audit import NetworkAudit, Seen, body_problem

OK_CHALLENGE = json.dumps({"v": 1, "site": "demo", "user": "alice", "purpose": "verify"}).encode()


def audit_of(*seen: Seen) -> NetworkAudit:
    return NetworkAudit(requests=list(seen))


def test_local_requests_with_protocol_bodies_pass() -> None:
    audit = audit_of(Seen("GET", "http://127.0.0.1:8000/assets/x.wasm", "fetch", None),
                     Seen("POST", "http://localhost:8000/api/v1/challenge", "fetch",
                          OK_CHALLENGE))
    assert audit.problems() == []
    audit.check()


def test_a_request_to_another_host_is_caught() -> None:
    audit = audit_of(Seen("GET", "https://cdn.jsdelivr.net/pyodide/v0.27.7/full/pyodide.mjs",
                          "script", None))
    assert "non-local host" in audit.problems()[0]


def test_image_embedding_and_bit_bodies_are_caught() -> None:
    jpeg = b"\xff\xd8\xff\xe0" + bytes(2000)
    embedding = json.dumps({"v": 1, "embedding": [0.1] * 128}).encode()
    bits = json.dumps({"v": 1, "site": "demo", "user": "alice", "purpose": "verify",
                       "bits": base64.b64encode(bytes(128)).decode()}).encode()
    as_data_url = json.dumps({"image": "data:image/jpeg;base64," + "A" * 400}).encode()
    for body in (jpeg, embedding, bits, as_data_url, bytes(protocol.MAX_BODY_BYTES + 1)):
        assert body_problem(body) is not None, body[:40]


def test_an_empty_audit_is_an_error_not_a_pass() -> None:
    try:
        NetworkAudit().check()
    except AssertionError as exc:
        assert "no request" in str(exc)
    else:
        raise AssertionError("an audit that saw nothing must not pass")


def test_the_password_form_passes_but_not_with_extra_fields() -> None:
    form = b"site=demo&user=alice&lang=en&action=auto&kind=verify&password=s3cret-horse"
    assert body_problem(form, "/app/password") is None
    assert body_problem(form + b"&embedding=0.1,0.2", "/app/password") is not None
    assert body_problem(b"\xff\xd8\xff" + bytes(500), "/app/password") is not None
    assert body_problem(form, "/api/v1/verify") is not None  # only the form's own path
    ticket = protocol.make_ticket(bytes(32), "demo", "alice", 1_800_000_000)
    assert body_problem(form + f"&ticket={ticket}".encode(), "/app/password") is None
    longer = protocol.b64encode(bytes(41))  # a ticket is exactly 40 bytes: no room for more
    assert body_problem(form + f"&ticket={longer}".encode(), "/app/password") is not None


def test_the_business_may_pass_the_assertion_to_its_backend_and_nothing_more() -> None:
    ok = json.dumps({"assertion": "eyJhbGciOiJFZDI1NTE5In0.eyJzdWIiOiJhIn0.c2lnbmF0dXJl"})
    assert body_problem(ok.encode()) is None
    sneaky = json.dumps({"assertion": "a.b.c", "embedding": [0.1] * 128})
    assert body_problem(sneaky.encode()) is not None
    assert body_problem(json.dumps({"assertion": "not a jws"}).encode()) is not None
