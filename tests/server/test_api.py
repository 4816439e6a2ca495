"""The HTTP surface: bad input per endpoint, size caps, media types, CORS, origin and site
binding, and nothing shaped like an image or an embedding accepted anywhere."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from pyapp.protocol import API_PREFIX, MAX_BODY_BYTES, MAX_FIELD_CHARS, ErrorBody, b64encode
from tests.server.conftest import ALICE, ORIGIN, Api, FakeClock, add_site, make_app, make_settings

B16 = b64encode(bytes(16))
B32 = b64encode(bytes.fromhex("e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76"))
B41 = b64encode(bytes(41))
B64 = b64encode(bytes(64))
VALID: dict[str, dict[str, Any]] = {
    "/consent": {"site": "shop", "user": "u", "purpose": "face_verification",
                 "notice_version": 1, "notice_sha256": "0" * 64, "language": "en"},
    "/consent/withdraw": {"site": "shop", "user": "u", "session": B41},
    "/erase": {"site": "shop", "user": "u", "session": B41},
    "/challenge": {"site": "shop", "user": "u", "purpose": "verify"},
    "/evaluate": {"site": "shop", "user": "u", "challenge_id": B16, "blinded": B32},
    "/enrol": {"site": "shop", "user": "u", "challenge_id": B16, "consent_id": B16,
               "public_key": B32, "signature": B64},
    "/verify": {"site": "shop", "user": "u", "challenge_id": B16, "signature": B64},
    "/password/set": {"site": "shop", "user": "u", "password": "correct horse battery"},
    "/password/verify": {"site": "shop", "user": "u", "password": "correct horse battery"},
    "/password/change": {"site": "shop", "user": "u", "session": B41,
                         "new_password": "correct horse battery"},
}
WRONG_TYPE = {"site": 7, "user": ["u"], "purpose": 1, "notice_version": "1", "session": 41,
              "challenge_id": 16, "blinded": None, "signature": True, "password": 12345678,
              "new_password": {"x": 1}, "consent_id": 1.5, "public_key": [], "language": 3,
              "notice_sha256": 0}


def raw(api: Api, path: str, content: bytes, ctype: str = "application/json",
        **headers: str) -> Any:
    return api.client.post(API_PREFIX + path, content=content,
                           headers={"Content-Type": ctype, "Origin": ORIGIN, **headers})


def _error(r: Any, status: int, code: str) -> None:
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert body["error"] == code and body["v"] == 1 and isinstance(body["message"], str)


@pytest.mark.parametrize("path", sorted(VALID))
def test_bad_input_per_endpoint(api: Api, path: str) -> None:
    body = {"v": 1, **VALID[path]}
    _error(raw(api, path, json.dumps({**body, "extra": 1}).encode()), 400, "bad_request")
    _error(raw(api, path, json.dumps({**body, "v": 2}).encode()), 400, "bad_request")
    for name in VALID[path]:
        wrong = {**body, name: WRONG_TYPE[name]}
        r = raw(api, path, json.dumps(wrong).encode())
        _error(r, 400, "bad_request")
        assert r.json()["field"] == name
        if (path, name) in {("/erase", "session"), ("/consent/withdraw", "session")}:
            continue  # optional: the admin token may stand in for it
        missing = {k: v for k, v in body.items() if k != name}
        _error(raw(api, path, json.dumps(missing).encode()), 400, "bad_request")
    _error(raw(api, path, b"\xff\xfe{not json"), 400, "bad_request")
    _error(raw(api, path, b'{"v": 1, "v": 1}'), 400, "bad_request")
    _error(raw(api, path, b'{"v": NaN}'), 400, "bad_request")
    _error(raw(api, path, b"[1, 2, 3]"), 400, "bad_request")
    _error(raw(api, path, json.dumps(body).encode(), ctype="text/plain"), 415,
           "unsupported_media_type")
    _error(raw(api, path, b"{" + b" " * MAX_BODY_BYTES + b"}"), 413, "too_large")
    _error(raw(api, path, json.dumps({**body, "site": "elsewhere"}).encode()), 404,
           "unknown_site")


def _refusal(r: Any) -> ErrorBody:
    """The answer is a refusal that conforms to the schema (field at most 100 characters)."""
    assert r.status_code < 500, r.text
    return ErrorBody.parse(r.json())


@pytest.mark.parametrize("path", sorted(VALID))
def test_lone_surrogates_and_long_field_names(api: Api, path: str) -> None:
    """A lone UTF-16 surrogate (in a field name or a value) is a 400, never a 500; an
    unknown field's name is echoed shortened to the schema's 100 characters."""
    body = {"v": 1, **VALID[path]}
    for text in ('{"\\ud800": 1, ' + json.dumps(body)[1:],
                 json.dumps({**body, "site": "\ud83d"}),
                 json.dumps({**body, "x\udfff" * 60: 1})):
        refused = _refusal(raw(api, path, text.encode()))
        assert refused.error == "bad_request" and refused.field == "body"
    long_name = "n" * 8000
    refused = _refusal(raw(api, path, json.dumps({**body, long_name: 1}).encode()))
    assert refused.error == "bad_request" and refused.field is not None
    assert len(refused.field) <= MAX_FIELD_CHARS and long_name[:90] in refused.field
    assert len(refused.message) <= 500
    for version in (True, 1.0, "1", [1]):  # only the integer 1 is version 1
        refused = _refusal(raw(api, path, json.dumps({**body, "v": version}).encode()))
        assert (refused.error, refused.field) == ("bad_request", "v"), version


def test_a_password_with_a_lone_surrogate_fails_like_any_wrong_one(api: Api) -> None:
    text = '{"v": 1, "site": "shop", "user": "alice", "password": "abc\\udc00defgh"}'
    r = raw(api, "/password/verify", text.encode())
    assert r.status_code == 400 and r.json()["field"] == "body"


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(name=st.text(min_size=1, max_size=400) | st.sampled_from(
           ["\ud800", "a\udfffb", "\udbff\udc00", "x" * 5000]),
       value=st.text(max_size=50) | st.integers() | st.none(),
       path=st.sampled_from(sorted(VALID)))
def test_fuzzed_field_names_and_values(fuzz_api: Api, name: str, value: Any, path: str
                                       ) -> None:
    """Names and values from all of Unicode, surrogates included (escaped as JSON allows):
    never a 5xx, always a schema-conformant answer."""
    body = {"v": 1, **VALID[path], name: value}
    r = raw(fuzz_api, path, json.dumps(body, ensure_ascii=True).encode())
    assert r.status_code < 500, r.text
    if r.status_code >= 400:
        _refusal(r)


@pytest.fixture(scope="module")
def fuzz_api(tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite:///{tmp / 'o.db'}"
    add_site(url)
    with TestClient(make_app(make_settings(tmp, url, FakeClock(), argon2_memory_kib=8,
                                           argon2_time_cost=1, ip_limit=10**9))) as client:
        yield Api(client)


def test_declared_huge_body_refused_before_reading(api: Api) -> None:
    r = api.client.post(API_PREFIX + "/verify", content=b"{}",
                        headers={"Content-Type": "application/json",
                                 "Content-Length": str(10 * MAX_BODY_BYTES)})
    _error(r, 413, "too_large")


def test_chunked_body_is_capped(api: Api) -> None:
    def chunks() -> Any:
        for _ in range(40):
            yield b" " * 1024

    r = api.client.post(API_PREFIX + "/verify", content=chunks(),
                        headers={"Content-Type": "application/json"})
    _error(r, 413, "too_large")


@pytest.mark.parametrize("path", ["/enrol", "/verify", "/evaluate", "/consent"])
def test_nothing_shaped_like_an_image_or_embedding(api: Api, path: str) -> None:
    embedding = [0.01 * i for i in range(512)]
    image = base64.b64encode(b"\xff\xd8\xff\xe0" + bytes(8000)).decode()
    for name, value in (("embedding", embedding), ("image", image), ("bits", [1, 0] * 256),
                        ("template", embedding)):
        _error(raw(api, path, json.dumps({"v": 1, **VALID[path], name: value}).encode()), 400,
               "bad_request")
    if path == "/evaluate":  # the blinded element must be exactly one group element
        r = raw(api, path, json.dumps({"v": 1, **VALID[path],
                                       "blinded": b64encode(bytes(2048))}).encode())
        _error(r, 400, "bad_request")


def test_invalid_and_identity_elements(api: Api) -> None:
    cid = api.challenge("alice").json()["challenge_id"]
    valid = bytes.fromhex("e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76")
    top_bit = valid[:-1] + bytes([valid[-1] | 0x80])
    for bad in (bytes(32), b"\xff" * 32, top_bit):
        r = api.post("/evaluate", {"site": "shop", "user": "alice", "challenge_id": cid,
                                   "blinded": b64encode(bad)})
        _error(r, 400, "invalid_element")


def test_origin_binding(api: Api) -> None:
    _error(api.challenge("alice", origin="https://evil.example"), 403, "origin_not_allowed")
    _error(api.challenge("alice", origin=None), 403, "origin_not_allowed")
    cid = api.challenge("alice").json()["challenge_id"]
    body = {"site": "shop", "user": "alice", "challenge_id": cid, "blinded": B32}
    _error(api.post("/evaluate", body, origin="https://evil.example"), 403,
           "origin_not_allowed")
    _error(api.post("/evaluate", body, origin=None), 400, "challenge_invalid")


def test_challenge_bound_to_site_and_user(tmp_path: Path, clock: FakeClock) -> None:
    url = f"sqlite:///{tmp_path / 'o.db'}"
    add_site(url, "shop")
    add_site(url, "bank", origins=(ORIGIN,))
    with TestClient(make_app(make_settings(tmp_path, url, clock))) as client:
        shop, bank = Api(client, "shop"), Api(client, "bank")
        assert shop.enrol("alice", ALICE).status_code == 200
        assert bank.enrol("alice", ALICE).status_code == 200
        ch = shop.challenge("alice").json()
        foreign = {"site": "bank", "user": "alice", "challenge_id": ch["challenge_id"],
                   "blinded": B32}
        _error(bank.post("/evaluate", foreign), 400, "challenge_invalid")
        other_user = {"site": "shop", "user": "bob", "challenge_id": ch["challenge_id"],
                      "blinded": B32}
        _error(shop.post("/evaluate", other_user), 400, "challenge_invalid")
        # a signature made for shop's challenge does not verify at bank
        _, sig = ALICE.answer(shop.evaluator("alice", ch["challenge_id"]), "verify", "shop",
                              "alice", ORIGIN, ch)
        r = bank.post("/verify", {"site": "bank", "user": "alice",
                                  "challenge_id": ch["challenge_id"],
                                  "signature": b64encode(sig)})
        _error(r, 401, "not_verified")
        # the same face enrolled at two sites gets unrelated keys (per-site OPRF seeds)
        jwk_shop = shop.get("/sites/shop/jwks.json").json()["keys"][0]
        jwk_bank = bank.get("/sites/bank/jwks.json").json()["keys"][0]
        assert jwk_shop["x"] != jwk_bank["x"]


def test_cors_preflight_and_headers(api: Api) -> None:
    pre = api.client.options(API_PREFIX + "/verify", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert pre.status_code == 204
    assert pre.headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in pre.headers["access-control-allow-methods"]
    assert "Origin" in pre.headers["vary"]
    evil = api.client.options(API_PREFIX + "/verify", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert evil.status_code == 403 and "access-control-allow-origin" not in evil.headers
    r = api.challenge("alice")
    assert r.headers["access-control-allow-origin"] == ORIGIN
    r = api.client.get(API_PREFIX + "/sites/shop/notice",
                       headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers


def test_openapi_and_health(api: Api) -> None:
    doc = api.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    assert {"/verify", "/enrol", "/password/verify", "/sites/{site}/notice"} <= set(doc["paths"])
    schema = doc["components"]["schemas"]["VerifyRequest"]
    assert schema["additionalProperties"] is False
    assert api.get("/health").json() == {"status": "ok"}
    assert api.get("/nope").json()["error"] == "not_found"
