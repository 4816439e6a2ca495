"""The SQL of the face steps and of the attempt counters, and the verify step as a
PostgreSQL function.

Every statement here is plain SQL with ``:name`` parameters that SQLite and PostgreSQL both
run (``server.rawdb.sql``). On SQLite a step is a short transaction of these statements. On
PostgreSQL each statement is a network round trip, so the one multi-statement hot step, the
write half of verify, also exists as a PL/pgSQL function whose body is made from these very
statements (:func:`functions`), and a challenge is one statement (the address count and the
insert in one ``WITH``): one round trip and one transaction per step, and no second copy of
the SQL to keep in sync. ``server.db.migrate`` installs the function (``CREATE OR
REPLACE``, under the migration lock); the version in its name changes with its signature.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping

from server.tables import EVALUATED, FRESH, USED

MAX_DOUBLINGS = 20  # a wait doubles at most this often (then max_delay caps it anyway)
KNOWN_REFRESH_SECONDS = 3600  # how stale a client's noted last sign-in may get
# (noqa S608 below: statements are assembled from this module's own constants; values always
# travel as parameters)

# --- challenges ------------------------------------------------------------------------------
_CHALLENGE_COLUMNS = 'id, site_id, "user", purpose, origin, nonce, expires_at, state'
_CHALLENGE_VALUES = ":id, :site, :user, :purpose, :origin, :nonce, :expires, :state"
INSERT_CHALLENGE = (f"INSERT INTO challenges ({_CHALLENGE_COLUMNS}) "  # noqa: S608
                    f"VALUES ({_CHALLENGE_VALUES})")
PURGE_CHALLENGES = "DELETE FROM challenges WHERE expires_at < :before"
# FRESH -> EVALUATED: the one evaluation a challenge allows.
CLAIM = ('UPDATE challenges SET state = :new WHERE id = :id AND site_id = :site AND '
         '"user" = :user AND state = :fresh AND expires_at > :now AND origin = :origin')
# EVALUATED -> USED: the one verify (or enrol) a challenge allows.
TAKE = ('UPDATE challenges SET state = :used WHERE id = :id AND site_id = :site AND '
        '"user" = :user AND state = :evaluated AND purpose IN (:p1, :p2) AND '
        'expires_at > :now AND origin = :origin RETURNING nonce, purpose, origin')
# What a verify needs before it writes: always exactly one row, whatever is missing, so every
# failure runs the same statements.
VERIFY_READ = ('SELECT c.nonce, c.purpose, (SELECT t.public_key FROM templates t JOIN users u '
               'ON u.id = t.user_id WHERE u.site_id = :site AND u.external_id = :user), '
               '(SELECT u.generation FROM users u WHERE u.site_id = :site AND '
               'u.external_id = :user) '
               'FROM (SELECT 1 AS one) AS x LEFT JOIN challenges c ON c.id = :id AND '
               'c.site_id = :site AND c."user" = :user AND c.state = :evaluated AND '
               'c.purpose IN (:p1, :p2) AND c.expires_at > :now AND c.origin = :origin')

# --- attempt counters (server.limits) ----------------------------------------------------------
# In an upsert's UPDATE branch every column reference is the row's value before the update.
# A WHERE on DO UPDATE refuses the attempt: the row stays as it was (locked, on PostgreSQL)
# and nothing is returned.
_COLUMNS = '("key", failures, window_start, locked_until, last_failure, last_success)'


def _wait(failures: str) -> str:
    """SQL for 'until when a client waits after this many failures' (0: it does not)."""
    steps = (f"CAST(CASE WHEN {failures} - :free > {MAX_DOUBLINGS} THEN {MAX_DOUBLINGS} "
             f"ELSE {failures} - :free END AS INTEGER)")
    wait = f"(:base * (1 << {steps}))"
    return (f"CASE WHEN {failures} >= :free THEN :now + CASE WHEN {wait} > :max_delay "
            f"THEN :max_delay ELSE {wait} END ELSE 0 END")


_CLIENT_N = ("CASE WHEN :now - attempts.last_failure > :forget THEN 1 "
             "ELSE attempts.failures + 1 END")
_ACCOUNT_FRESH = ":now - attempts.window_start >= :account_window"
_ACCOUNT_N = f"CASE WHEN {_ACCOUNT_FRESH} THEN 1 ELSE attempts.failures + 1 END"
# One attempt's counters: (client waits until, account guarded until, client's last sign-in
# by either method, client's failures or -1 without a row, client's noted last sign-in)
_STATE = ('coalesce((SELECT locked_until FROM attempts WHERE "key" = :client), 0), '
          'coalesce((SELECT locked_until FROM attempts WHERE "key" = :account), 0), '
          'coalesce((SELECT max(last_success) FROM attempts WHERE "key" IN (:client, :other)), '
          '0), coalesce((SELECT failures FROM attempts WHERE "key" = :client), -1), '
          'coalesce((SELECT last_success FROM attempts WHERE "key" = :client), 0)')
STATE = f"SELECT {_STATE}"
# A verify's take, with the state of its client's counters in the same statement.
TAKE_WITH_STATE = f"{TAKE}, {_STATE}"
# One failure of a client that may try: counted on the account (refused while it is guarded,
# unless the client is known), then on the client (refused while it waits).
ACCOUNT_FAILURE = (
    f"INSERT INTO attempts {_COLUMNS} VALUES (:account, 1, :now, CASE WHEN 1 >= "  # noqa: S608
    ":account_limit THEN :now + :account_window ELSE 0 END, :now, 0) "
    f'ON CONFLICT ("key") DO UPDATE SET failures = {_ACCOUNT_N}, '
    f"window_start = CASE WHEN {_ACCOUNT_FRESH} THEN :now ELSE attempts.window_start END, "
    f"locked_until = CASE WHEN {_ACCOUNT_N} >= :account_limit THEN :now + :account_window "
    "ELSE attempts.locked_until END, last_failure = :now "
    "WHERE attempts.locked_until <= :now OR :known RETURNING failures")
CLIENT_FAILURE = (
    f"INSERT INTO attempts {_COLUMNS} "  # noqa: S608
    f"VALUES (:client, 1, :now, {_wait('1')}, :now, 0) "
    f'ON CONFLICT ("key") DO UPDATE SET failures = {_CLIENT_N}, '
    f"locked_until = {_wait(_CLIENT_N)}, last_failure = :now "
    "WHERE attempts.locked_until <= :now RETURNING failures")
# A sign-in: clear the client's count and wait, and note when it last signed in (rewritten
# only when there is something to clear or the note is over an hour old: most sign-ins of a
# known client write nothing).
CLIENT_SUCCESS = (
    f"INSERT INTO attempts {_COLUMNS} VALUES (:client, 0, :now, 0, 0, :now) "  # noqa: S608
    'ON CONFLICT ("key") DO UPDATE SET failures = 0, locked_until = 0, last_success = :now '
    "WHERE attempts.failures > 0 OR attempts.locked_until > 0 OR "
    f"attempts.last_success < :now - {KNOWN_REFRESH_SECONDS}")
ADDRESS_ATTEMPT = (
    f"INSERT INTO attempts {_COLUMNS} VALUES (:address, 1, :now, 0, :now, 0) "  # noqa: S608
    'ON CONFLICT ("key") DO UPDATE SET '
    "failures = CASE WHEN :now - attempts.window_start >= :window THEN 1 "
    "ELSE attempts.failures + 1 END, "
    "window_start = CASE WHEN :now - attempts.window_start >= :window THEN :now "
    "ELSE attempts.window_start END, last_failure = :now "
    "WHERE :now - attempts.window_start >= :window OR attempts.failures < :ip_limit "
    "RETURNING failures")
PURGE_ATTEMPTS = ("DELETE FROM attempts WHERE last_failure < :idle AND window_start < :window "
                  "AND locked_until < :now AND last_success < :known")
REFUND = ('UPDATE attempts SET failures = CASE WHEN failures > :n THEN failures - :n ELSE 0 '
          'END WHERE "key" = :key AND failures > 0')
# A challenge on PostgreSQL: the address count and the insert in one statement (no row is
# inserted when the address is over its limit).
CHALLENGE_WITH_COUNT = (f"WITH counted AS ({ADDRESS_ATTEMPT}) INSERT INTO challenges "  # noqa: S608
                        f"({_CHALLENGE_COLUMNS}) SELECT {_CHALLENGE_VALUES} FROM counted")

# --- audit -------------------------------------------------------------------------------------
AUDIT = ("INSERT INTO audit (site_id, at, event, subject, detail) "
         "VALUES (:site, :at, :event, :subject, :detail)")

# --- the PostgreSQL function -------------------------------------------------------------------
VERIFY_FUNCTION = "ownface_verify_v3"  # v3: the audit detail (method and liveness) passed in
OLD_FUNCTIONS = ("ownface_evaluate_v1(bytea, integer, text, text, double precision, text, "
                 "double precision, integer, double precision, double precision, text, "
                 "double precision, integer)",
                 "ownface_verify_v1(bytea, integer, text, text, double precision, text, text, "
                 "boolean, text, text, text)",
                 "ownface_verify_v2(bytea, integer, text, text, double precision, text, text, "
                 "boolean, text, text, text, text, text, double precision, integer, "
                 "double precision, double precision, integer, double precision, "
                 "double precision, double precision, integer)")
# what the verify step answers (the function's result, and the SQLite path's)
VERIFIED, FAILED, RATE_LIMITED = 1, 0, 2
_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_VERIFY_PARAMS = ("id", "site", "user", "origin", "now", "p1", "p2", "signature_ok",
                  "subject", "account", "client", "other", "address", "forget", "free",
                  "base", "max_delay", "account_limit", "account_window", "known_since",
                  "window", "ip_limit", "detail")
_TYPES = {"id": "bytea", "site": "integer", "signature_ok": "boolean", "free": "integer",
          "account_limit": "integer", "ip_limit": "integer", "now": "double precision",
          "forget": "double precision", "base": "double precision",
          "max_delay": "double precision", "account_window": "double precision",
          "known_since": "double precision", "window": "double precision"}


def _bind(statement: str, values: Mapping[str, str]) -> str:
    """A statement with each ``:name`` replaced by a PL/pgSQL expression."""
    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        return values.get(name, f"p_{name}")

    return _PARAM.sub(sub, statement)


# the policy's numbers: the same for every call one server makes
POLICY_PARAMS = ("forget", "free", "base", "max_delay", "account_limit", "account_window",
                 "window", "ip_limit")


@functools.lru_cache(maxsize=16)
def verify_call(policy: tuple[tuple[str, float], ...]) -> str:
    """The call of the verify function, with the policy's numbers (``POLICY_PARAMS``) written
    in as typed constants, so that each call binds only what changes."""
    fixed = dict(policy)
    args = []
    for name in _VERIFY_PARAMS:
        if name not in fixed:
            args.append(f":{name}")
            continue
        value = float(fixed[name])
        if not math.isfinite(value):
            raise ValueError(f"the limit {name} must be a finite number")
        kind = _TYPES[name]
        args.append(f"CAST({int(value) if kind == 'integer' else value!r} AS {kind})")
    return f"SELECT {VERIFY_FUNCTION}({', '.join(args)})"


def functions() -> list[str]:
    """``DROP`` of the functions earlier versions installed, ``CREATE OR REPLACE`` of verify."""
    fixed = {"used": str(USED), "evaluated": str(EVALUATED), "fresh": str(FRESH),
             "n": "1", "key": "p_address"}
    take = _bind(TAKE_WITH_STATE, fixed)
    account = _bind(ACCOUNT_FAILURE, {**fixed, "known": "v_known"})
    client = _bind(CLIENT_FAILURE, fixed)
    success = _bind(CLIENT_SUCCESS, fixed)
    refund = _bind(REFUND, fixed)
    address = _bind(ADDRESS_ATTEMPT, fixed)
    audit = _bind(AUDIT, {"at": "p_now",
                          "event": "CASE WHEN v_good THEN 'verified' ELSE 'verify_failed' END",
                          "detail": "CASE WHEN v_good THEN p_detail END"})
    params = ", ".join(f"p_{n} {_TYPES.get(n, 'text')}" for n in _VERIFY_PARAMS)
    verify = f"""
CREATE OR REPLACE FUNCTION {VERIFY_FUNCTION}({params})
RETURNS integer LANGUAGE plpgsql AS $fn$
-- Consume the evaluated challenge; {RATE_LIMITED}: no such challenge and the address is over its
-- limit, {FAILED}: not verified, {VERIFIED}: verified. A failure of a client that may try counts
-- (server.limits); a success clears the client's count and gives the address its unit back.
DECLARE
    v_nonce bytea;
    v_purpose text;
    v_origin text;
    v_waiting double precision;
    v_guarded double precision;
    v_last double precision;
    v_failures integer;
    v_noted double precision;
    v_known boolean;
    v_good boolean;
BEGIN
    {take} INTO v_nonce, v_purpose, v_origin, v_waiting, v_guarded, v_last, v_failures,
        v_noted;
    IF NOT FOUND THEN
        IF p_ip_limit <= 0 THEN
            RETURN {RATE_LIMITED};
        END IF;
        {address} INTO v_last;
        IF NOT FOUND THEN
            RETURN {RATE_LIMITED};
        END IF;
        RETURN {FAILED};
    END IF;
    v_known := v_last > p_known_since;
    v_good := p_signature_ok AND v_waiting <= p_now AND (v_guarded <= p_now OR v_known);
    IF v_good THEN
        IF v_failures <> 0 OR v_waiting > 0 OR v_noted < p_now - {KNOWN_REFRESH_SECONDS} THEN
            {success};
        END IF;
        {refund};
    ELSIF NOT p_signature_ok THEN
        {account} INTO v_last;
        IF FOUND THEN
            {client} INTO v_last;
            IF NOT FOUND THEN
                {_bind(REFUND, {"key": "p_account", "n": "1"})};
            END IF;
        END IF;
    END IF;
    {audit};
    RETURN CASE WHEN v_good THEN {VERIFIED} ELSE {FAILED} END;
END
$fn$"""
    drops = [f"DROP FUNCTION IF EXISTS {signature}" for signature in OLD_FUNCTIONS]
    return [*drops, verify]
