"""audit item and subject rows without foreign keys to their entry

Revision ID: f7a4d2c9e634
Revises: e6f3c9a4b523
Create Date: 2026-12-07 21:00:00

Written by hand. PostgreSQL checks a foreign key with a trigger per inserted row: for a
1,000-plate answer's ~5,000 item and subject rows that doubled the time of the COPYs the
answer waits for (~13 ms of ~27 ms for 4,000 subject rows, measured with psql). Only the
writer inserts these rows, always in the transaction of their entry, and ``audit verify``
reports rows whose entry is missing (docs/security.md), so the keys guarded nothing the chain
does not. SQLite cannot drop a constraint in place: its two tables are rebuilt (a copy of
their rows, once).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "f7a4d2c9e634"
down_revision: str | None = "e6f3c9a4b523"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEYS = {
    "audit_item": "fk_audit_item_entry_seq_audit_entry",
    "audit_subject": "fk_audit_subject_entry_seq_audit_entry",
}


def upgrade() -> None:
    for table, name in _KEYS.items():
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(name, type_="foreignkey")


def downgrade() -> None:
    for table, name in _KEYS.items():
        with op.batch_alter_table(table) as batch:
            batch.create_foreign_key(name, "audit_entry", ["entry_seq"], ["seq"])
