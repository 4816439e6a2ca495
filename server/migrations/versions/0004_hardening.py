"""hardening: account generations and claims, retired accounts, single-use tickets, the
last success of each (account, client) pair; templates with weak public keys are dropped

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from server.ed25519 import strong

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('generation', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('claimed', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    with op.batch_alter_table('attempts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_success', sa.Float(), nullable=False,
                                      server_default='0'))
    op.create_table(
        'retired_users',
        sa.Column('site_id', sa.Integer(), nullable=False),
        sa.Column('subject', sa.String(length=32), nullable=False),
        sa.Column('generation', sa.Integer(), nullable=False),
        sa.Column('retired_at', sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(['site_id'], ['sites.id'],
                                name=op.f('fk_retired_users_site_id_sites'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('site_id', 'subject', name=op.f('pk_retired_users')))
    op.create_table(
        'used_tickets',
        sa.Column('digest', sa.LargeBinary(length=32), nullable=False),
        sa.Column('expires_at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('digest', name=op.f('pk_used_tickets')))
    with op.batch_alter_table('used_tickets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_used_tickets_expires_at'), ['expires_at'],
                              unique=False)
    # Accounts that had a credential: a template or password now, or a consent that was
    # withdrawn (withdrawal erased the template). They are not re-opened to strangers.
    op.execute("UPDATE users SET claimed = true WHERE id IN (SELECT user_id FROM templates) "
               "OR id IN (SELECT user_id FROM passwords) OR id IN (SELECT user_id FROM "
               "consents WHERE withdrawn_at IS NOT NULL)")
    # A template whose public key is a small-order point (or no point at all) verifies the
    # universal forgery: a face login without a face. No real client makes one.
    conn = op.get_bind()
    weak = [row[0] for row in conn.execute(sa.text("SELECT user_id, public_key FROM templates"))
            if not strong(bytes(row[1]))]
    for user_id in weak:
        conn.execute(sa.text("DELETE FROM templates WHERE user_id = :u"), {"u": user_id})


def downgrade() -> None:
    with op.batch_alter_table('used_tickets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_used_tickets_expires_at'))
    op.drop_table('used_tickets')
    op.drop_table('retired_users')
    with op.batch_alter_table('attempts', schema=None) as batch_op:
        batch_op.drop_column('last_success')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('claimed')
        batch_op.drop_column('generation')
