"""handoffs: a widget pop-up's result waiting for the frame that opened it

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'handoffs',
        sa.Column('digest', sa.LargeBinary(32), nullable=False),
        sa.Column('site_id', sa.Integer(), nullable=False),
        sa.Column('outcome', sa.String(16), nullable=False),
        sa.Column('method', sa.String(8), nullable=True),
        sa.Column('assertion', sa.Text(), nullable=True),
        sa.Column('expires_at', sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(['site_id'], ['sites.id'],
                                name=op.f('fk_handoffs_site_id_sites'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('digest', name=op.f('pk_handoffs')),
    )
    op.create_index(op.f('ix_handoffs_expires_at'), 'handoffs', ['expires_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_handoffs_expires_at'), table_name='handoffs')
    op.drop_table('handoffs')
