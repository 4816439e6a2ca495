"""The widget's pop-up hands its result to the frame that opened it, through the server.

Where a browser gives the widget's frame no storage (Chromium's default for frames of
other sites) or no cross-origin isolation, the face path runs in a first-party OwnFace
pop-up instead (docs/widget.md). The pop-up cannot talk to its opener: both pages are
cross-origin isolated (``Cross-Origin-Opener-Policy: same-origin``), which severs the link
between a pop-up and a page of another origin, and the frame's storage is partitioned from
the pop-up's. So the frame makes a random secret (``HANDOFF_BYTES``), gives it to the pop-up
after the ``#`` of its address, and asks here until the pop-up has put its result:

* ``put`` (the pop-up): a verified outcome carries an assertion this server signed for the
  site (checked, so nobody parks junk here), or the person cancelled. Stored under the
  secret's sha256 for ``HANDOFF_SECONDS``, once.
* ``take`` (the frame): ``pending`` until then; the result once, then it is gone.

Knowing the secret is what entitles the frame to the result; it never reaches a server log
(fragments are not sent) and the table holds only its digest. An assertion found here is
no more than the business's page gets from the frame anyway, and it expires in two minutes.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError

from pyapp.errors import Refused
from pyapp.protocol import HANDOFF_SECONDS, Handoff, HandoffPut, HandoffTake
from server import limits
from server.assertions import AssertionInvalid, jwks, verify_assertion
from server.db import transaction
from server.store import Site, Store
from server.tables import handoffs


def site_keys(store: Store, site: Site) -> dict[str, Any]:
    """The site's JWK set: the current signing key and the one before it."""
    generations = [g for g in (site.key_generation, site.key_generation - 1) if g >= 1]
    return jwks([store.keys.signing_key(site.name, g) for g in generations])


def put(store: Store, req: HandoffPut, address: str) -> Handoff:
    site = store.site(req.site)
    now = store.clock()
    method = None
    if req.assertion is not None:
        try:
            claims = verify_assertion(req.assertion, site_keys(store, site), site.name,
                                      store.issuer, now)
        except AssertionInvalid as exc:
            raise Refused("not_verified") from exc
        method = str(claims["amr"][0])
    else:  # a cancellation proves nothing: it counts like any unconfirmed write
        with transaction(store.engine) as conn:
            ok = limits.address_attempt(
                conn, store.limit_keys("face", site, "-", address).address, now, store.policy)
        if not ok:
            raise Refused("rate_limited")
    try:
        with transaction(store.engine) as conn:
            conn.execute(delete(handoffs).where(handoffs.c.expires_at < now))
            conn.execute(insert(handoffs).values(
                digest=hashlib.sha256(req.handoff).digest(), site_id=site.id,
                outcome=req.outcome, method=method, assertion=req.assertion,
                expires_at=now + HANDOFF_SECONDS))
    except IntegrityError as exc:
        raise Refused("handoff_used") from exc
    return Handoff(state=req.outcome)


def take(store: Store, req: HandoffTake) -> Handoff:
    site = store.site(req.site)
    digest = hashlib.sha256(req.handoff).digest()
    with transaction(store.engine) as conn:
        row = conn.execute(  # one statement: two frames asking at once cannot both get it
            delete(handoffs).where(handoffs.c.digest == digest, handoffs.c.site_id == site.id,
                                   handoffs.c.expires_at >= store.clock())
            .returning(handoffs.c.outcome, handoffs.c.method, handoffs.c.assertion)).first()
    if row is None:
        return Handoff(state="pending")
    return Handoff(state=row.outcome, method=row.method, assertion=row.assertion)
