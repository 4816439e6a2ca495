"""Verification end to end against the in-process stand-in server."""

from __future__ import annotations

import numpy as np
import pytest

from pyapp import protocol
from pyapp.enrol import enrol
from pyapp.errors import InputError, LivenessRefused, NotMatched, Refused
from pyapp.template.blob import Template
from pyapp.verify import verify
from tests.pyapp.template.test_binarise import synthetic_people, synthetic_scheme

from .standin import StandInServer
from .test_enrol import CONSENT, ORIGIN, run


def enrolled(mode: str = "device", seed: int = 31) -> tuple[StandInServer, bytes, np.ndarray]:
    server = StandInServer(ORIGIN, mode=mode)
    faces, _ = synthetic_people(1, 3, seed=seed)
    result = run(enrol(faces[0], scheme=synthetic_scheme(), site="shop", user="alice",
                       origin=ORIGIN, consent_id=CONSENT, api=server, mode=mode))
    return server, result.template, faces


def test_the_same_person_verifies_in_device_mode() -> None:
    server, template, faces = enrolled()
    for probe in (faces[1], faces[2], faces[1:]):
        verified = run(verify(probe, scheme=synthetic_scheme(), site="shop", user="alice",
                              origin=ORIGIN, api=server, template=template))
        assert isinstance(verified, protocol.Verified) and verified.method == "face"
    assert server.challenges == {}  # every challenge was used exactly once


def test_portable_mode_gets_the_helper_from_the_challenge() -> None:
    server, _, faces = enrolled("portable")
    verified = run(verify(faces[1], scheme=synthetic_scheme(), site="shop", user="alice",
                          origin=ORIGIN, api=server))
    assert verified.method == "face"


def test_another_person_is_not_matched_or_refused() -> None:
    server, template, _ = enrolled()
    others, _ = synthetic_people(6, 1, seed=99)
    outcomes = []
    for face in others:
        with pytest.raises((NotMatched, Refused)) as info:
            run(verify(face, scheme=synthetic_scheme(), site="shop", user="alice",
                       origin=ORIGIN, api=server, template=template))
        outcomes.append(type(info.value).__name__)
    assert "NotMatched" in outcomes


def sent_verifications(server: StandInServer) -> list[protocol.VerifyRequest]:
    """Every verify request the server receives from now on, in order."""
    sent: list[protocol.VerifyRequest] = []
    original = server.verify

    async def spy(request: protocol.VerifyRequest) -> protocol.Verified:
        sent.append(request)
        return await original(request)

    server.verify = spy  # type: ignore[method-assign]
    return sent


def test_a_signature_cannot_be_replayed() -> None:
    server, template, faces = enrolled()
    captured = sent_verifications(server)
    run(verify(faces[1], scheme=synthetic_scheme(), site="shop", user="alice", origin=ORIGIN,
               api=server, template=template))
    with pytest.raises(Refused):  # the challenge is spent
        run(server.verify(captured[0]))
    fresh = run(server.challenge(protocol.ChallengeRequest("shop", "alice", "verify")))
    replay = protocol.VerifyRequest("shop", "alice", fresh.challenge_id, captured[0].signature)
    with pytest.raises(Refused):  # a new challenge needs a new signature
        run(server.verify(replay))


def test_keys_are_bound_to_the_account() -> None:
    server, template, faces = enrolled()
    run(enrol(faces[0], scheme=synthetic_scheme(), site="shop", user="carol", origin=ORIGIN,
              consent_id=CONSENT, api=server))
    # alice's template opened by alice's face but presented as carol: carol's OPRF key and
    # carol's salt give another key pair, which carol's stored public key refuses.
    with pytest.raises(Refused):
        run(verify(faces[1], scheme=synthetic_scheme(), site="shop", user="carol",
                   origin=ORIGIN, api=server, template=template))


def test_missing_or_foreign_templates_are_refused() -> None:
    server, template, faces = enrolled()
    with pytest.raises(InputError, match="no template"):
        run(verify(faces[1], scheme=synthetic_scheme(), site="shop", user="alice",
                   origin=ORIGIN, api=server))
    parsed = Template.decode(template)
    foreign = Template(bytes(8), parsed.seed, parsed.helper).encode()
    with pytest.raises(InputError, match="other binarisation"):
        run(verify(faces[1], scheme=synthetic_scheme(), site="shop", user="alice",
                   origin=ORIGIN, api=server, template=foreign))


def test_begin_names_the_pipeline_and_finish_needs_its_scheme() -> None:
    """A template says which pipeline made it; opening it with another pipeline's scheme is
    refused before anything is signed (renewal after a v1 verification relies on this)."""
    from dataclasses import replace

    from pyapp.template.binarise import scheme_from_params
    from pyapp.verify import begin, finish

    server, template, faces = enrolled()
    scheme = synthetic_scheme()
    assert scheme.pipeline == "v2" and Template.decode(template).pipeline == "v2"
    pending = run(begin(site="shop", user="alice", api=server, template=template))
    assert pending.pipeline == "v2" and "alice" in repr(pending)
    assert "helper" not in repr(pending).lower().replace("helper(", "")
    v1_scheme = scheme_from_params({**scheme.params, "pipeline": "v1"})
    with pytest.raises(InputError, match="other binarisation parameters"):
        run(finish(pending, faces[1], scheme=v1_scheme, origin=ORIGIN, api=server))
    old = replace(pending, template=replace(pending.template, pipeline="v1"))
    with pytest.raises(InputError, match="a v1 template needs the v1 scheme"):
        run(finish(old, faces[1], scheme=scheme, origin=ORIGIN, api=server))
    verified = run(finish(pending, faces[1], scheme=scheme, origin=ORIGIN, api=server))
    assert verified.method == "face"


def test_a_liveness_refusal_goes_through_the_server_like_a_mismatch() -> None:
    """The genuine face, but the burst's liveness check refused it: the attempt is answered
    with a random key (the server sees and counts an ordinary failed verification, with the
    policy that ran) and the person gets the refusal, never a match."""
    server, template, faces = enrolled()
    sent = sent_verifications(server)
    refusal = LivenessRefused("passive")
    with pytest.raises(LivenessRefused) as info:
        run(verify(faces[1], scheme=synthetic_scheme(), site="shop", user="alice",
                   origin=ORIGIN, api=server, template=template, liveness="passive",
                   refused=refusal))
    assert info.value is refusal and "spoof" not in str(refusal).lower()
    assert len(sent) == 1 and sent[0].liveness == "passive"
    verified = run(verify(faces[1], scheme=synthetic_scheme(), site="shop", user="alice",
                          origin=ORIGIN, api=server, template=template, liveness="passive"))
    assert verified.method == "face" and sent[-1].liveness == "passive"
