"""The database schema (SQLAlchemy Core). Migrations in server/migrations build exactly this.

What is stored, and what is not: no image, embedding or bits of one ever reaches a table.
A template is a public key plus, in portable mode only, the helper data sealed with a key
the database does not hold. Users are the site's opaque ids. The audit log names users only
by a keyed pseudonym and is append-only (triggers refuse UPDATE and DELETE).
Times are Unix seconds (float where sub-second matters: counters and locks).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

metadata = MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

# A BIGINT autoincrement key that is SQLite's ROWID alias there.
_BigId = BigInteger().with_variant(Integer(), "sqlite")

sites = Table(
    "sites", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("origins", Text, nullable=False),  # JSON list of allowed web origins
    Column("storage_mode", String(16), nullable=False),  # device | portable
    Column("admin_token_sha256", String(64), nullable=False),
    Column("key_generation", Integer, nullable=False),  # assertion-signing key generation
    Column("created_at", Float, nullable=False),
    # a new account's first credential needs an enrolment ticket from the business backend
    Column("enrol_tickets", Boolean, nullable=False, server_default=false()),
    # the presentation-attack check the app must run (protocol.LIVENESS_POLICIES)
    Column("liveness", String(16), nullable=False, server_default="passive"),
    # templates unused this long are erased (server.retention); the notice promises it
    Column("retention_days", Integer, nullable=False, server_default="365"),
    # the kiosk: how a person says who they are (room + name, or a code the business gave)
    # and the equal alternative to the face (a one-time code, or a staff confirmation)
    Column("kiosk_identity", String(8), nullable=False, server_default="room"),
    Column("kiosk_alternative", String(8), nullable=False, server_default="code"),
)

notices = Table(
    "notices", metadata,
    Column("id", Integer, primary_key=True),
    Column("site_id", Integer, ForeignKey("sites.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("language", String(16), nullable=False),
    Column("text", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("site_id", "version", "language", name="uq_notices_site_version_lang"),
)

users = Table(
    "users", metadata,
    Column("id", _BigId, primary_key=True, autoincrement=True),
    Column("site_id", Integer, ForeignKey("sites.id", ondelete="CASCADE"), nullable=False),
    Column("external_id", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    # bumped by password change, withdrawal and erasure: older sessions stop working
    Column("generation", Integer, nullable=False, server_default="0"),
    # the account has had a face or a password: it is never silently re-opened to strangers
    Column("claimed", Boolean, nullable=False, server_default=false()),
    UniqueConstraint("site_id", "external_id", name="uq_users_site_external"),
)

# An erased account leaves only this: its keyed pseudonym (as in the audit log) and the
# generation its next incarnation starts at, so it cannot be claimed again by whoever
# names it first, and no session of the old account works for a new one.
retired_users = Table(
    "retired_users", metadata,
    Column("site_id", Integer, ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True),
    Column("subject", String(32), primary_key=True),
    Column("generation", Integer, nullable=False),
    Column("retired_at", Float, nullable=False),
)

# Enrolment tickets are single-use: the sha256 of each ticket that created a credential,
# kept until the ticket would have expired anyway.
used_tickets = Table(
    "used_tickets", metadata,
    Column("digest", LargeBinary(32), primary_key=True),
    Column("expires_at", Float, nullable=False, index=True),
)

# Codes typed at a kiosk (server.desk): a person's one-time code (kind "otp", names the
# account, the alternative to the face) or a staff code (kind "staff": confirms a person,
# allows enrolment at the kiosk). Only a keyed digest is stored; a used one-time code is
# deleted, expired codes are purged.
desk_codes = Table(
    "desk_codes", metadata,
    Column("digest", LargeBinary(32), primary_key=True),
    Column("site_id", Integer, ForeignKey("sites.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("user", String(64), nullable=True),
    Column("label", String(64), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False, index=True),
)

consents = Table(
    "consents", metadata,
    Column("id", LargeBinary(16), primary_key=True),
    Column("user_id", BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column("purpose", String(32), nullable=False),
    Column("notice_version", Integer, nullable=False),
    Column("notice_sha256", String(64), nullable=False),
    Column("language", String(16), nullable=False),
    Column("granted_at", Float, nullable=False),
    Column("withdrawn_at", Float, nullable=True),
)

templates = Table(
    "templates", metadata,
    Column("user_id", BigInteger, ForeignKey("users.id", ondelete="CASCADE"),
           primary_key=True),
    Column("consent_id", LargeBinary(16), ForeignKey("consents.id", ondelete="CASCADE"),
           nullable=False),
    Column("scheme", String(32), nullable=False),
    Column("public_key", LargeBinary(32), nullable=False),
    Column("helper_sealed", LargeBinary, nullable=True),  # portable mode only, AES-GCM sealed
    Column("created_at", Float, nullable=False),
    # the face pipeline that made the template (pyapp.protocol.PIPELINES): v1 templates are
    # renewed to v2 after a successful verification
    Column("pipeline", String(8), nullable=False, server_default="v1"),
    # the last successful face verification (NULL: none since enrolment); retention counts
    # from here
    Column("last_used_at", Float, nullable=True),
)

# Challenge states: FRESH -> EVALUATED -> USED (one evaluation, one verify or enrol).
# (2 and 5 were the decoy states of evaluations during a lock before migration 0004.)
FRESH, EVALUATED, USED = 0, 1, 4

challenges = Table(
    "challenges", metadata,
    Column("id", LargeBinary(16), primary_key=True),
    Column("site_id", Integer, ForeignKey("sites.id", ondelete="CASCADE"), nullable=False),
    Column("user", String(64), nullable=False),  # the site's id, even for unknown accounts
    Column("purpose", String(16), nullable=False),
    Column("origin", String(300), nullable=False),
    Column("nonce", LargeBinary(32), nullable=False),
    Column("expires_at", Float, nullable=False, index=True),
    Column("state", SmallInteger, nullable=False),
)

passwords = Table(
    "passwords", metadata,
    Column("user_id", BigInteger, ForeignKey("users.id", ondelete="CASCADE"),
           primary_key=True),
    Column("hash", String(255), nullable=False),
    Column("updated_at", Float, nullable=False),
)

attempts = Table(
    "attempts", metadata,
    Column("key", String(200), primary_key=True),  # see server/limits.py
    Column("failures", Integer, nullable=False),
    Column("window_start", Float, nullable=False),
    Column("locked_until", Float, nullable=False),
    Column("last_failure", Float, nullable=False),
    # per (account, client) rows: when that client last signed in to that account
    Column("last_success", Float, nullable=False, server_default="0"),
)

# A widget pop-up's result for the frame that opened it (``server.handoff``): the sha256 of
# the frame's secret, the outcome and, when verified, the assertion (itself valid for two
# minutes), given to the frame once, and gone after ``HANDOFF_SECONDS`` anyway.
handoffs = Table(
    "handoffs", metadata,
    Column("digest", LargeBinary(32), primary_key=True),
    Column("site_id", Integer, ForeignKey("sites.id", ondelete="CASCADE"), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("method", String(8), nullable=True),
    Column("assertion", Text, nullable=True),
    Column("expires_at", Float, nullable=False, index=True),
)

audit = Table(
    "audit", metadata,
    Column("id", _BigId, primary_key=True, autoincrement=True),
    Column("site_id", Integer, nullable=False),
    Column("at", Float, nullable=False),
    Column("event", String(32), nullable=False),
    Column("subject", String(32), nullable=True),  # keyed pseudonym of the user
    Column("detail", String(200), nullable=True),  # e.g. the method; never biometric data
    Index("ix_audit_site_at", "site_id", "at"),
)
