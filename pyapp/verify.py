"""Verification: embedding(s) + template -> a signature over a fresh server challenge.

challenge (with the helper in portable mode) -> binarise under the template's seed -> open
the commitment (NotMatched if the face is too far) -> OPRF -> keys -> sign -> VerifyRequest.
A face that decodes to a wrong secret yields a wrong key: the server refuses it exactly like
any other failure, so the client never learns more than the server tells it.

Two steps, so that a caller can look at the template before it opens it: :func:`begin` asks
for the challenge and says which template (and so which face pipeline and scheme) this
verification needs; :func:`finish` opens it with that pipeline's embedding. A template made
by an older pipeline (v1) is verified with that pipeline's models and can then be renewed.
:func:`verify` does both for a caller that already has the right embedding.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyapp import protocol
from pyapp.enrol import hardened_keys
from pyapp.errors import InputError, LivenessRefused, NotMatched, Refused
from pyapp.ports import Api, RandomBytes, system_random
from pyapp.template import commitment
from pyapp.template.binarise import Scheme, binarise
from pyapp.template.blob import Template


@dataclass(frozen=True, repr=False)
class Pending:
    """A verification under way: the server's challenge and the template it will open."""

    site: str
    user: str
    challenge: protocol.Challenge
    template: Template

    @property
    def pipeline(self) -> str:
        """The face pipeline whose embedding this template needs."""
        return self.template.pipeline

    def __repr__(self) -> str:
        return f"Pending({self.site}/{self.user}, {self.template!r})"


async def begin(*, site: str, user: str, api: Api, template: bytes | None = None
                ) -> Pending:
    """Ask for a verify challenge; ``template`` is the device-stored blob (device mode), else
    the helper the site's server sends with the challenge (portable mode) is used."""
    challenge = await api.challenge(protocol.ChallengeRequest(site, user, "verify"))
    blob = template if template is not None else challenge.helper
    if blob is None:
        raise InputError("no template: this device holds none and the site sent none")
    return Pending(site, user, challenge, Template.decode(blob))


async def finish(pending: Pending, embeddings: object, *, scheme: Scheme, origin: str,
                 api: Api, random: RandomBytes = system_random, liveness: str = "off",
                 refused: LivenessRefused | None = None) -> protocol.Verified:
    """Open ``pending``'s template with ``embeddings`` (of the template's pipeline, binarised
    by ``scheme``) and answer the challenge, reporting the ``liveness`` check that ran
    (``protocol.LIVENESS_POLICIES``; the server refuses one weaker than the site's).

    Raises NotMatched when the face does not open the template (after the attempt has gone
    through the server, which counts it), Refused when the server rejects the signature (or
    anything else), InputError for a template of another scheme or pipeline. A burst the
    liveness check ``refused`` goes through the server like a mismatch (so it counts toward
    the same attempt limits and looks the same on the wire) and raises that refusal.
    """
    parsed = Template.decode(pending.template.encode(), scheme.scheme_id)
    if scheme.pipeline != parsed.pipeline:
        raise InputError(f"a {parsed.pipeline} template needs the {parsed.pipeline} scheme, "
                         f"not {scheme.pipeline}'s")
    site, user, challenge = pending.site, pending.user, pending.challenge
    try:
        if refused is not None:
            raise NotMatched("the liveness check refused this burst")
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
                                                           pair.sign(message), liveness))
    except Refused as exc:
        if refused is not None and exc.code != "liveness_required":
            raise refused from exc
        if not matched and exc.code != "liveness_required":
            raise NotMatched("the face does not open this template") from exc
        raise
    if not matched:  # pragma: no cover - a random key cannot sign for the account
        raise refused or NotMatched("the face does not open this template")
    return verified


async def verify(embeddings: object, *, scheme: Scheme, site: str, user: str, origin: str,
                 api: Api, template: bytes | None = None,
                 random: RandomBytes = system_random, liveness: str = "off",
                 refused: LivenessRefused | None = None) -> protocol.Verified:
    """Verify ``user`` at ``site`` with an embedding of ``scheme``'s pipeline."""
    pending = await begin(site=site, user=user, api=api, template=template)
    return await finish(pending, embeddings, scheme=scheme, origin=origin, api=api,
                        random=random, liveness=liveness, refused=refused)
