"""front desks and gates: per-site retention, kiosk identity and alternative, templates'
last use, one-time desk codes and staff codes

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 18:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retention_days', sa.Integer(), nullable=False,
                                      server_default='365'))
        batch_op.add_column(sa.Column('kiosk_identity', sa.String(8), nullable=False,
                                      server_default='room'))
        batch_op.add_column(sa.Column('kiosk_alternative', sa.String(8), nullable=False,
                                      server_default='code'))
    with op.batch_alter_table('templates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_used_at', sa.Float(), nullable=True))
    op.create_table(
        'desk_codes',
        sa.Column('digest', sa.LargeBinary(length=32), nullable=False),
        sa.Column('site_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('user', sa.String(length=64), nullable=True),
        sa.Column('label', sa.String(length=64), nullable=True),
        sa.Column('created_at', sa.Float(), nullable=False),
        sa.Column('expires_at', sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(['site_id'], ['sites.id'],
                                name=op.f('fk_desk_codes_site_id_sites'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('digest', name=op.f('pk_desk_codes')))
    with op.batch_alter_table('desk_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_desk_codes_expires_at'), ['expires_at'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('desk_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_desk_codes_expires_at'))
    op.drop_table('desk_codes')
    with op.batch_alter_table('templates', schema=None) as batch_op:
        batch_op.drop_column('last_used_at')
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.drop_column('kiosk_alternative')
        batch_op.drop_column('kiosk_identity')
        batch_op.drop_column('retention_days')
