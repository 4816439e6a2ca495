"""sites.liveness: the site's presentation-attack policy (off | passive | passive+active);
existing portable-mode (kiosk) sites get passive+active, the others passive

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 18:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.add_column(sa.Column('liveness', sa.String(16), nullable=False,
                                      server_default='passive'))
    op.execute("UPDATE sites SET liveness = 'passive+active' WHERE storage_mode = 'portable'")


def downgrade() -> None:
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.drop_column('liveness')
