"""The audit trail: an append-only, hash-chained record of every security and money event (two-factor
successes, failures and lockouts; orders; bank accounts; withdrawals and their approvals; admin actions):
who, when, what, on what, and why.

Each row's `hash` is HMAC-SHA256, under OMNIBOT_AUDIT_KEY, of the previous row's hash and the row's own content;
without a key it is plain SHA-256. `verify` recomputes the chain: an edited, removed or inserted row breaks it
from there on. Without the key, someone able to write the database cannot forge a consistent chain either; a
keyless chain shows edits but not a rewrite of the whole tail. The database refuses updates and deletes
(triggers), and one head row, locked while a row is added, keeps the chain a single line however many
transactions write at once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, insert, select, update

from core.db import UnitOfWork
from core.models import AuditHead, AuditRecord

LOG: Table = AuditRecord.__table__  # type: ignore[assignment]
HEAD: Table = AuditHead.__table__  # type: ignore[assignment]
GENESIS = bytes(32)


@dataclass(frozen=True)
class Verified:
    rows: int
    broken_at: int | None  # the first row (by sequence) whose hash does not follow; None: whole
    head: str  # the last hash, hex: note it elsewhere now and then, to anchor the chain

    @property
    def whole(self) -> bool:
        return self.broken_at is None


async def record(uow: UnitOfWork, actor: str, action: str, subject: object = "", **detail: object) -> None:
    """Append an event, in the caller's transaction (it stands or falls with what it records)."""
    head = (await uow.connection.execute(select(HEAD).where(HEAD.c.id == 1).with_for_update())).one()
    row = {
        "seq": head.last_seq + 1,
        "at": uow.clock.now(),
        "actor": actor[:80],
        "action": action[:60],
        "subject": str(subject)[:120],
        "detail": {key: _plain(value) for key, value in detail.items()},
    }
    digest = _digest(uow.audit_key, head.last_hash, row)
    await uow.connection.execute(insert(LOG).values(**row, prev_hash=head.last_hash, hash=digest))
    await uow.connection.execute(update(HEAD).where(HEAD.c.id == 1).values(last_seq=row["seq"], last_hash=digest))


async def verify(uow: UnitOfWork, *, batch: int = 5000) -> Verified:
    key, previous, rows, after = uow.audit_key, GENESIS, 0, 0
    while True:
        query = select(LOG).where(LOG.c.seq > after).order_by(LOG.c.seq).limit(batch)
        found = (await uow.connection.execute(query)).all()
        for row in found:
            content = {name: row._mapping[name] for name in ("seq", "at", "actor", "action", "subject", "detail")}
            expected = _digest(key, previous, content)
            if (
                row.seq != rows + 1
                or bytes(row.prev_hash) != previous
                or not hmac.compare_digest(bytes(row.hash), expected)
            ):
                return Verified(rows, row.seq, previous.hex())
            previous, rows, after = expected, rows + 1, row.seq
        if len(found) < batch:
            head = (await uow.connection.execute(select(HEAD).where(HEAD.c.id == 1))).one()
            if head.last_seq != rows or bytes(head.last_hash) != previous:  # rows cut off the end
                return Verified(rows, rows + 1, previous.hex())
            return Verified(rows, None, previous.hex())


def _digest(key: bytes | None, previous: bytes, row: dict[str, Any]) -> bytes:
    at: datetime = row["at"]
    content = json.dumps(
        [row["seq"], at.isoformat(), row["actor"], row["action"], row["subject"], row["detail"]],
        sort_keys=True,
        separators=(",", ":"),
    ).encode()
    message = bytes(previous) + content
    return hmac.new(key, message, hashlib.sha256).digest() if key else hashlib.sha256(message).digest()


def _plain(value: object) -> object:
    """A detail as JSON keeps it (amounts and ids as text)."""
    return value if isinstance(value, (str, int, bool)) or value is None else str(value)
