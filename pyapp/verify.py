"""Verification: embedding(s) + template -> a signature over a fresh server challenge.

challenge (with the helper in portable mode) -> binarise under the template's seed -> open
the commitment (NotMatched if the face is too far) -> OPRF -> keys -> sign -> VerifyRequest.
A face that decodes to a wrong secret yields a wrong key: the server refuses it exactly like
any other failure, so the client never learns more than the server tells it.
"""

from __future__ import annotations

from pyapp import protocol
from pyapp.enrol import hardened_keys
from pyapp.errors import InputError, NotMatched, Refused
from pyapp.ports import Api, RandomBytes, system_random
from pyapp.template import commitment
from pyapp.template.binarise import Scheme, binarise
from pyapp.template.blob import Template


async def verify(embeddings: object, *, scheme: Scheme, site: str, user: str, origin: str,
                 api: Api, template: bytes | None = None,
                 random: RandomBytes = system_random) -> protocol.Verified:
    """Verify ``user`` at ``site``; ``template`` is the device-stored blob (device mode).

    Raises NotMatched when the face does not open the template (after the attempt has gone
    through the server, which counts it), Refused when the server rejects the signature (or
    anything else), InputError for a malformed template.
    """
    challenge = await api.challenge(protocol.ChallengeRequest(site, user, "verify"))
    blob = template if template is not None else challenge.helper
    if blob is None:
        raise InputError("no template: this device holds none and the site sent none")
    parsed = Template.decode(blob, scheme.scheme_id)
    try:
        secret = commitment.open(parsed.helper, binarise(embeddings, scheme, parsed.seed))
        matched = True
    except NotMatched:
        # Go through the server anyway, with a random secret: every face attempt is then
        # counted by the server's attempt limit, and a failure looks the same on the wire
        # (and takes the same steps) whether the decoder or the server said no.
        secret, matched = random(32), False
    pair = await hardened_keys(secret, site, user, challenge.challenge_id, api, random)
    message = protocol.signed_message("verify", site, user, origin, challenge.challenge_id,
                                      challenge.nonce)
    try:
        verified = await api.verify(protocol.VerifyRequest(site, user, challenge.challenge_id,
                                                           pair.sign(message)))
    except Refused as exc:
        if not matched:
            raise NotMatched("the face does not open this template") from exc
        raise
    if not matched:  # pragma: no cover - a random key cannot sign for the account
        raise NotMatched("the face does not open this template")
    return verified
