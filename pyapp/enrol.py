"""Enrolment: embedding(s) -> protected template + public key, registered with the server.

binarise (fresh seed) -> commit (fresh secret) -> challenge -> OPRF blind -> server evaluate
-> finalize -> HKDF -> Ed25519 key pair -> sign the challenge -> EnrolRequest.
The returned template blob is what the device stores (device-bound mode); in portable mode
the same blob is also sent to the server, which stores it encrypted.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyapp import protocol
from pyapp.errors import InputError
from pyapp.ports import Api, RandomBytes, system_random
from pyapp.template import oprf
from pyapp.template.binarise import SEED_BYTES, Scheme, binarise
from pyapp.template.blob import Template
from pyapp.template.commitment import commit
from pyapp.template.keys import KeyPair, derive_keys

OPRF_INPUT_LABEL = b"OwnFace/1 template secret\x00"


@dataclass(frozen=True, repr=False)
class Enrolment:
    template: bytes  # the helper-data blob: keep it in the browser's storage
    public_key: bytes
    enrolled: protocol.Enrolled

    def __repr__(self) -> str:
        return f"Enrolment(template=<{len(self.template)} bytes>)"


async def hardened_keys(secret: bytes, site: str, user: str, challenge_id: bytes, api: Api,
                        random: RandomBytes) -> KeyPair:
    """secret -> OPRF with the server's key (the server sees a random element) -> key pair."""
    data = OPRF_INPUT_LABEL + secret
    state = oprf.blind(data, random=random)
    evaluation = await api.evaluate(protocol.EvaluateRequest(site, user, challenge_id,
                                                             state.element))
    return derive_keys(oprf.finalize(data, state, evaluation.evaluated), site, user)


async def enrol(embeddings: object, *, scheme: Scheme, site: str, user: str, origin: str,
                consent_id: bytes, api: Api, mode: str = "device",
                session: bytes | None = None, ticket: bytes | None = None,
                random: RandomBytes = system_random, liveness: str = "off") -> Enrolment:
    """Enrol one face (one embedding, or several averaged) for ``user`` at ``site``.

    ``session`` is needed when the account already has a credential; ``ticket`` (from the
    site's backend) when it is new and the site requires enrolment tickets. ``liveness`` is
    the presentation-attack check that ran on the burst (``protocol.LIVENESS_POLICIES``): the
    server refuses one weaker than the site's policy.
    """
    if mode not in protocol.STORAGE_MODES:
        raise InputError(f"mode must be one of {protocol.STORAGE_MODES}")
    seed = random(SEED_BYTES)
    helper, secret = commit(binarise(embeddings, scheme, seed), code=scheme.code,
                            random=random)
    template = Template(scheme.scheme_id, seed, helper, scheme.pipeline).encode()
    challenge = await api.challenge(protocol.ChallengeRequest(site, user, "enrol"))
    pair = await hardened_keys(secret, site, user, challenge.challenge_id, api, random)
    message = protocol.signed_message("enrol", site, user, origin, challenge.challenge_id,
                                      challenge.nonce)
    request = protocol.EnrolRequest(
        site=site, user=user, challenge_id=challenge.challenge_id, consent_id=consent_id,
        public_key=pair.public_key, signature=pair.sign(message),
        helper=template if mode == "portable" else None, session=session, ticket=ticket,
        pipeline=scheme.pipeline, liveness=liveness)
    enrolled = await api.enrol(request)
    return Enrolment(template, pair.public_key, enrolled)
