"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 10:34:48.195697
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('camera',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('stream_url', sa.String(length=1000), nullable=False),
    sa.Column('watch_fps', sa.Float(), nullable=False),
    sa.Column('watch_rows', sa.Integer(), nullable=False),
    sa.Column('watch_cols', sa.Integer(), nullable=False),
    sa.Column('tz', sa.Float(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_camera')),
    sa.UniqueConstraint('stream_url', name=op.f('uq_camera_stream_url'))
    )
    op.create_table('user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=100), nullable=False),
    sa.Column('password_hash', sa.String(length=300), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user')),
    sa.UniqueConstraint('username', name=op.f('uq_user_username'))
    )
    op.create_table('processor',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('camera_id', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=50), nullable=False),
    sa.Column('zones', sa.JSON(), nullable=False),
    sa.Column('threshold', sa.Float(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('output_hls', sa.Boolean(), nullable=False),
    sa.Column('anchor', sa.String(length=20), nullable=False),
    sa.Column('classes', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['camera_id'], ['camera.id'], name=op.f('fk_processor_camera_id_camera'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_processor'))
    )
    with op.batch_alter_table('processor', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_processor_camera_id'), ['camera_id'], unique=False)

    op.create_table('processor_event',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('processor_id', sa.Integer(), nullable=False),
    sa.Column('ts', sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql'), nullable=False),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['processor_id'], ['processor.id'], name=op.f('fk_processor_event_processor_id_processor'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_processor_event'))
    )
    with op.batch_alter_table('processor_event', schema=None) as batch_op:
        batch_op.create_index('ix_processor_event_processor_id_ts', ['processor_id', 'ts'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('processor_event', schema=None) as batch_op:
        batch_op.drop_index('ix_processor_event_processor_id_ts')

    op.drop_table('processor_event')
    with op.batch_alter_table('processor', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_processor_camera_id'))

    op.drop_table('processor')
    op.drop_table('user')
    op.drop_table('camera')
