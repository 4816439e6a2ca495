"""The SQL of the face steps, and the same steps as PostgreSQL functions.

Every statement here is plain SQL with ``:name`` parameters that SQLite and PostgreSQL both
run (``server.rawdb.sql``). On SQLite a step is a short transaction of these statements. On
PostgreSQL each statement is a network round trip, so the two multi-statement steps,
evaluate and the write half of verify, also exist as PL/pgSQL functions whose bodies are
made from these very statements (:func:`functions`): one call, one round trip, one
transaction per step, and no second copy of the logic to keep in sync. ``server.db.migrate``
installs them (``CREATE OR REPLACE``, under the migration lock); the version in their names
changes whenever their signature does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from server.tables import DECOY, EVALUATED, FRESH, USED

# --- challenges ------------------------------------------------------------------------------
INSERT_CHALLENGE = ('INSERT INTO challenges (id, site_id, "user", purpose, origin, nonce, '
                    "expires_at, state) VALUES (:id, :site, :user, :purpose, :origin, :nonce, "
                    ":expires, :state)")
PURGE_CHALLENGES = "DELETE FROM challenges WHERE expires_at < :before"
# FRESH -> EVALUATED (or DECOY): the one evaluation a challenge allows.
CLAIM = ('UPDATE challenges SET state = :new WHERE id = :id AND site_id = :site AND '
         '"user" = :user AND state = :fresh AND expires_at > :now AND origin = :origin')
DECOY_STATE = "UPDATE challenges SET state = :decoy WHERE id = :id"
# EVALUATED/DECOY -> USED + that state: the one verify (or enrol) a challenge allows.
TAKE = ('UPDATE challenges SET state = :used + state WHERE id = :id AND site_id = :site AND '
        '"user" = :user AND state IN (:evaluated, :decoy) AND purpose IN (:p1, :p2) AND '
        'expires_at > :now AND origin = :origin RETURNING state, nonce, purpose, origin')
# What a verify needs before it writes: always exactly one row, whatever is missing, so every
# failure runs the same statements.
VERIFY_READ = ('SELECT c.nonce, c.purpose, (SELECT t.public_key FROM templates t JOIN users u '
               'ON u.id = t.user_id WHERE u.site_id = :site AND u.external_id = :user) '
               'FROM (SELECT 1 AS one) AS x LEFT JOIN challenges c ON c.id = :id AND '
               'c.site_id = :site AND c."user" = :user AND c.state IN (:evaluated, :decoy) AND '
               'c.purpose IN (:p1, :p2) AND c.expires_at > :now AND c.origin = :origin')

# --- attempt counters (server.limits) ----------------------------------------------------------
# One statement per face or address attempt. In the UPDATE branch every column reference is
# the row's value before the update (SET expressions see the old row). The WHERE of DO UPDATE
# refuses the attempt: the row stays as it was (locked, on PostgreSQL) and nothing is returned.
FACE_ATTEMPT = (
    'INSERT INTO attempts ("key", failures, window_start, locked_until, last_failure) '
    'VALUES (:key, 1, :now, :first_lock, :now) ON CONFLICT ("key") DO UPDATE SET '
    'failures = CASE WHEN attempts.locked_until > 0 OR :now - attempts.last_failure > '
    ':forget THEN 1 ELSE attempts.failures + 1 END, '
    'locked_until = CASE WHEN (CASE WHEN attempts.locked_until > 0 OR :now - '
    'attempts.last_failure > :forget THEN 1 ELSE attempts.failures + 1 END) >= :limit '
    'THEN :until ELSE 0 END, last_failure = :now '
    'WHERE attempts.locked_until <= :now RETURNING failures')
ADDRESS_ATTEMPT = (
    'INSERT INTO attempts ("key", failures, window_start, locked_until, last_failure) '
    'VALUES (:key, 1, :now, 0, :now) ON CONFLICT ("key") DO UPDATE SET '
    'failures = CASE WHEN :now - attempts.window_start >= :window THEN 1 '
    'ELSE attempts.failures + 1 END, '
    'window_start = CASE WHEN :now - attempts.window_start >= :window THEN :now '
    'ELSE attempts.window_start END, last_failure = :now '
    'WHERE :now - attempts.window_start >= :window OR attempts.failures < :limit '
    'RETURNING failures')
ADDRESS_SUCCESS = ('UPDATE attempts SET failures = failures - 1 WHERE "key" = :key '
                   'AND failures > 0')
RESET = ('UPDATE attempts SET failures = 0, locked_until = 0 WHERE "key" = :key '
         'AND (failures > 0 OR locked_until > 0)')

# --- audit -------------------------------------------------------------------------------------
AUDIT = ("INSERT INTO audit (site_id, at, event, subject, detail) "
         "VALUES (:site, :at, :event, :subject, :detail)")

# --- the PostgreSQL functions ------------------------------------------------------------------
EVALUATE_FUNCTION = "ownface_evaluate_v1"
VERIFY_FUNCTION = "ownface_verify_v1"
RATE_LIMITED = "ownface: rate_limited"  # the exception the evaluate function raises
_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


def _bind(statement: str, values: Mapping[str, str]) -> str:
    """A statement with each ``:name`` replaced by a PL/pgSQL expression."""
    def sub(match: re.Match[str]) -> str:
        return values[match.group(1)]  # a KeyError here is a bug in the mapping below

    return _PARAM.sub(sub, statement)


def evaluate_call() -> str:
    return (f"SELECT {EVALUATE_FUNCTION}(:id, :site, :user, :origin, :now, :face_key, "
            ":forget, :face_limit, :until, :first_lock, :address_key, :window, :ip_limit)")


def verify_call() -> str:
    return (f"SELECT {VERIFY_FUNCTION}(:id, :site, :user, :origin, :now, :p1, :p2, "
            ":signature_ok, :face_key, :address_key, :subject)")


def functions() -> list[str]:
    """``CREATE OR REPLACE FUNCTION`` statements of the two steps."""
    claim = _bind(CLAIM, {"new": str(EVALUATED), "id": "p_id", "site": "p_site",
                          "user": "p_user", "fresh": str(FRESH), "now": "p_now",
                          "origin": "p_origin"})
    face = _bind(FACE_ATTEMPT, {"key": "p_face_key", "now": "p_now", "forget": "p_forget",
                                "limit": "p_face_limit", "until": "p_until",
                                "first_lock": "p_first_lock"})
    address = _bind(ADDRESS_ATTEMPT, {"key": "p_address_key", "now": "p_now",
                                      "window": "p_window", "limit": "p_ip_limit"})
    decoy = _bind(DECOY_STATE, {"decoy": str(DECOY), "id": "p_id"})
    take = _bind(TAKE, {"used": str(USED), "id": "p_id", "site": "p_site", "user": "p_user",
                        "evaluated": str(EVALUATED), "decoy": str(DECOY), "p1": "p_p1",
                        "p2": "p_p2", "now": "p_now", "origin": "p_origin"})
    reset = _bind(RESET, {"key": "p_face_key"})
    success = _bind(ADDRESS_SUCCESS, {"key": "p_address_key"})
    audit = _bind(AUDIT, {"site": "p_site", "at": "p_now", "subject": "p_subject",
                          "event": "CASE WHEN v_good THEN 'verified' ELSE 'verify_failed' END",
                          "detail": "CASE WHEN v_good THEN 'face' END"})
    evaluate = f"""
CREATE OR REPLACE FUNCTION {EVALUATE_FUNCTION}(
    p_id bytea, p_site integer, p_user text, p_origin text, p_now double precision,
    p_face_key text, p_forget double precision, p_face_limit integer,
    p_until double precision, p_first_lock double precision,
    p_address_key text, p_window double precision, p_ip_limit integer)
RETURNS integer LANGUAGE plpgsql AS $fn$
-- 0: no such fresh challenge; 1: evaluate for real; 2: locked, answer a decoy.
-- Past the address limit it raises, which rolls the claim and the count back.
DECLARE
    v_count integer;
    v_real boolean;
BEGIN
    {claim};
    GET DIAGNOSTICS v_count = ROW_COUNT;
    IF v_count <> 1 THEN
        RETURN 0;
    END IF;
    {face} INTO v_count;
    v_real := FOUND;
    IF p_ip_limit <= 0 THEN
        RAISE EXCEPTION '{RATE_LIMITED}';
    END IF;
    {address} INTO v_count;
    IF NOT FOUND THEN
        RAISE EXCEPTION '{RATE_LIMITED}';
    END IF;
    IF NOT v_real THEN
        {decoy};
        RETURN 2;
    END IF;
    RETURN 1;
END
$fn$"""
    verify = f"""
CREATE OR REPLACE FUNCTION {VERIFY_FUNCTION}(
    p_id bytea, p_site integer, p_user text, p_origin text, p_now double precision,
    p_p1 text, p_p2 text, p_signature_ok boolean, p_face_key text, p_address_key text,
    p_subject text)
RETURNS boolean LANGUAGE plpgsql AS $fn$
-- Consume the challenge; a success clears the face count and gives the address its attempt
-- back; either way one audit row. True only for an evaluated (not decoy) challenge.
DECLARE
    v_state integer;
    v_nonce bytea;
    v_purpose text;
    v_origin text;
    v_good boolean;
BEGIN
    {take} INTO v_state, v_nonce, v_purpose, v_origin;
    v_good := FOUND AND v_state = {USED + EVALUATED} AND p_signature_ok;
    IF v_good THEN
        {reset};
        {success};
    END IF;
    {audit};
    RETURN v_good;
END
$fn$"""
    return [evaluate, verify]
