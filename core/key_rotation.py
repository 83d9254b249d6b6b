"""`omnibot keys rotate`: re-seal every encrypted value under the keyring's first key.

Encrypted columns are found through their mark in the metadata (core.orm.encrypted_column), so a column added by
any package is covered without being listed here. Rows are processed in batches, each batch one transaction
with its rows locked, so the platform can keep running during a rotation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy import Column, MetaData, Table, select, update

from core.crypto import FieldRef, Keyring
from core.db import Database, UnitOfWork
from core.orm import ENCRYPTED


@dataclass
class RotationReport:
    examined: int = 0
    resealed: int = 0
    per_table: dict[str, int] = field(default_factory=dict)


def encrypted_columns(metadata: MetaData) -> dict[Table, list[Column[Any]]]:
    found: dict[Table, list[Column[Any]]] = {}
    for table in metadata.sorted_tables:
        columns = [column for column in table.columns if column.info.get(ENCRYPTED)]
        if columns:
            if len(table.primary_key.columns) != 1:
                raise TypeError(f"{table.name}: encrypted values need a single-column primary key")
            found[table] = columns
    return found


async def rotate_keys(db: Database, keyring: Keyring, metadata: MetaData, *, batch_size: int = 500) -> RotationReport:
    report = RotationReport()
    for table, columns in encrypted_columns(metadata).items():
        last_key: Any = None
        while True:
            # Counted only once a batch has committed: a retried batch must not count twice.
            batch = await db.transact(
                partial(
                    _rotate_batch, keyring=keyring, table=table, columns=columns, after=last_key, batch_size=batch_size
                )
            )
            report.examined += batch.examined
            report.resealed += batch.resealed
            if batch.resealed:
                report.per_table[table.name] = report.per_table.get(table.name, 0) + batch.resealed
            if batch.last_key is None:
                break
            last_key = batch.last_key
    return report


@dataclass(frozen=True)
class _Batch:
    last_key: Any  # None when the table is done
    examined: int
    resealed: int


async def _rotate_batch(
    uow: UnitOfWork, *, keyring: Keyring, table: Table, columns: list[Column[Any]], after: Any, batch_size: int
) -> _Batch:
    pk = next(iter(table.primary_key.columns))
    query = select(pk, *columns).order_by(pk).limit(batch_size).with_for_update()
    if after is not None:
        query = query.where(pk > after)
    rows = (await uow.session.execute(query)).all()
    examined = resealed = 0
    for row in rows:
        changes = {}
        for column in columns:
            sealed = row._mapping[column]
            if sealed is None:
                continue
            examined += 1
            if Keyring.key_id_of(sealed) != keyring.primary_id:
                where = FieldRef(table.name, column.name, str(row._mapping[pk]))
                changes[column.name] = keyring.seal(keyring.open(sealed, where), where)
        if changes:
            await uow.session.execute(update(table).where(pk == row._mapping[pk]).values(**changes))
            resealed += len(changes)
    last_key = rows[-1]._mapping[pk] if len(rows) == batch_size else None
    return _Batch(last_key, examined, resealed)
