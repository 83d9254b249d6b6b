"""Following leaders: /follow (a guided flow with buttons, or all terms at once), confirmed with a fresh code
from the authenticator; /following (each copy with Pause, Resume, Stop and Close buttons); /copyedit.

The flow's state is a pending action (core.pending_actions): each button names only its token, every step
takes it and offers the next, so an old, forged or another user's button does nothing.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from copytrade import follow as following_rules
from copytrade import leaders, store
from copytrade.store import CopyRecord
from copytrade.terms import CopyMode, CopyStatus, CopyTerms
from core import pending_actions
from core.db import UnitOfWork
from core.errors import ActionUnavailable, InvalidCommand, NotFound
from core.users import UserRecord
from ledger.instruments import symbols_of
from ledger.sleeves import sleeve_books

from ..context import BotContext
from ..copy_view import copy_summary, terms_text
from ..follow_args import chosen, draft_of, next_question, parse_edit, parse_follow, terms_of
from ..fresh_code import FOLLOW, ask_for_code, confirmed_by_code, waiting
from ..render import esc, shares

DRAFT = "follow_draft"
MANAGE = re.compile(r"c([prskcl]):([0-9a-f-]{36})(?::(\d{1,12}))?")


async def follow(update: Update, context: BotContext, user: UserRecord | None) -> None:
    """/follow ALIAS: alerts or copies, step by step; or all at once (see FOLLOW_USAGE)."""
    assert user is not None
    wanted = parse_follow(context.args or [])
    if wanted.alias is None:
        await context.bot.send_message(user.telegram_id, "Whom would you like to follow? /leaders shows them.")
        return
    leader = await context.services.db.transact(lambda uow: leaders.active_leader(uow, wanted.alias or ""))
    draft = {"alias": leader.alias} | (draft_of(wanted.terms) if wanted.terms else {})
    await _next_step(context, user, draft, None)


async def on_start(update: Update, context: BotContext, user: UserRecord | None) -> None:
    """A leader card's Follow buttons: fs:<alias>:a (alerts) or fs:<alias>:c (copy)."""
    assert user is not None
    assert update.callback_query is not None
    await update.callback_query.answer()
    _prefix, alias, mode = (update.callback_query.data or "::").split(":", 2)
    draft = {"alias": alias, "mode": CopyMode.ALERTS.value if mode == "a" else CopyMode.COPY.value}
    await _next_step(context, user, draft, None)


async def on_step(update: Update, context: BotContext, user: UserRecord | None) -> None:
    """A step's button: fw:<token>:<field>:<value>; fc:<token> confirms the preview, fx:<token> drops it."""
    assert user is not None
    query = update.callback_query
    assert query is not None
    assert query.message is not None
    verb, token, *choice = (query.data or "").split(":")
    services = context.services
    if verb == "fx":
        await services.db.transact(lambda uow: pending_actions.withdraw(uow, token, user.id))
        await query.answer("Cancelled")
        await query.edit_message_text("Cancelled. You follow no one new.")
        return
    ttl = timedelta(seconds=services.settings.bot_confirm_seconds)

    async def step(uow: UnitOfWork) -> tuple[dict[str, Any], str]:
        # Confirmed, the draft is spent in the transaction that sets the follow waiting for its code: a process
        # dying between the two would leave a button that says "already used" and nothing waiting.
        taken = (await pending_actions.take(uow, token, user.id, DRAFT)).payload
        return taken, await ask_for_code(uow, user.id, FOLLOW, taken, ttl) if verb == "fc" else ""

    draft, replaced = await services.db.transact(step)
    await query.answer()
    if verb == "fc":
        await query.edit_message_text(
            f"{replaced}{terms_text(draft['alias'], terms_of(draft))}\n\n<b>To confirm, send the 6-digit code "
            "from your authenticator app now.</b>"
        )
        return
    picked = chosen(*choice) if len(choice) == 2 else None
    if picked is None:
        raise ActionUnavailable("unknown")
    await _next_step(context, user, draft | picked, (query.message.chat.id, query.message.message_id))


async def confirm_with_code(update: Update, context: BotContext, user: UserRecord, code: str) -> None:
    """The code that confirms a follow waiting for one (see security.on_code)."""
    services = context.services
    async with confirmed_by_code(context, user, FOLLOW, code) as (confirmed, spend):  # spent with the follow
        draft = confirmed.payload
        copy = await services.broker.copies.follow(user.id, draft["alias"], terms_of(draft), spending=spend)
    done = "You now follow" if copy.mode is CopyMode.ALERTS else "You now copy"
    await context.bot.send_message(user.telegram_id, f"{done} <b>{esc(draft['alias'])}</b>. /following shows it.")


async def is_waiting(context: BotContext, user: UserRecord) -> bool:
    return await waiting(context, user, FOLLOW)


async def show_following(update: Update, context: BotContext, user: UserRecord | None) -> None:
    """Whom you follow: each copy's money and positions, with buttons to pause, resume, stop or close."""
    assert user is not None
    services = context.services
    copies = await services.broker.copies.following(user.id)
    if not copies:
        await context.bot.send_message(user.telegram_id, "You follow no one yet. /leaders shows whom you could.")
        return
    books = await services.db.transact(lambda uow: sleeve_books(uow, [c.id for c in copies]), readonly=True)
    con_ids = {con_id for b in books.values() for con_id in b.shares}
    symbols = await services.db.transact(lambda uow: symbols_of(uow, con_ids), readonly=True)
    quotes = await asyncio.gather(*(services.broker.link.quote(con_id) for con_id in sorted(con_ids)))
    prices = {q.con_id: q.last or q.close or Decimal(0) for q in quotes}
    aliases = await services.db.transact(lambda uow: _aliases(uow, copies), readonly=True)
    lines, rows = ["<b>Whom you follow</b>"], []
    for number, copy in enumerate(copies, 1):
        held = books[copy.id].shares
        positions = ", ".join(f"{shares(q)} {esc(symbols[c])}" for c, (q, _h) in sorted(held.items()))
        equity = books[copy.id].equity(prices) if copy.mode is CopyMode.COPY else None
        lines.append(copy_summary(number, aliases[copy.leader_id], copy, equity, positions))
        rows.append(_manage_buttons(number, copy, {c: symbols[c] for c in held}))
    kept = [row for row in rows if row]
    markup = InlineKeyboardMarkup(kept) if kept else None  # a stopping copy has no buttons
    await context.bot.send_message(user.telegram_id, "\n".join(lines), reply_markup=markup)


async def on_manage(update: Update, context: BotContext, user: UserRecord | None) -> None:
    """/following's buttons: cp (pause), cr (resume), cs (stop: asks keep or close), ck / cc (stop, keeping or
    selling the positions), cl (sell one position: cl:<copy>:<con_id>). Another's copy is not found."""
    assert user is not None
    query = update.callback_query
    assert query is not None
    found = MANAGE.fullmatch(query.data or "")
    if found is None:
        raise NotFound("copy", query.data)
    action, copy_id, con_id = found.group(1), UUID(found.group(2)), found.group(3)
    copies = context.services.broker.copies
    if action in ("p", "r"):
        copy = await copies.set_paused(user.id, copy_id, paused=action == "p")
        await query.answer("Paused" if copy.status is CopyStatus.PAUSED else "Running")
    elif action == "s":
        await query.answer()
        buttons = [
            InlineKeyboardButton("Stop, keep the positions", callback_data=f"ck:{copy_id}"),
            InlineKeyboardButton("Stop, sell them", callback_data=f"cc:{copy_id}"),
        ]
        await context.bot.send_message(
            user.telegram_id,
            "Stop this copy? Keep its positions (they move to your own portfolio), or sell them?",
            reply_markup=InlineKeyboardMarkup([buttons]),
        )
    elif action == "l" and con_id is not None:
        await copies.close_position(user.id, copy_id, int(con_id))
        await query.answer("Selling that position")
    else:
        await copies.stop_copy(user.id, copy_id, keep_positions=action == "k")
        await query.answer("Stopping")


async def copyedit(update: Update, context: BotContext, user: UserRecord | None) -> None:
    """Change a copy's terms: /copyedit ALIAS sl 20 tp 50 max 1000 ratio 0.5."""
    assert user is not None
    services = context.services
    copies = await services.broker.copies.following(user.id)
    aliases = await services.db.transact(lambda uow: _aliases(uow, copies), readonly=True)
    words = context.args or []
    named = words[0].lstrip("@").lower() if words else ""
    copy = next((c for c in copies if aliases[c.leader_id].lower() == named and c.mode is CopyMode.COPY), None)
    if copy is None:
        raise InvalidCommand("you copy no leader by that alias", "/copyedit ALIAS sl 20 tp 50 max 1000")
    current = CopyTerms(
        CopyMode.COPY, copy.invested, copy.sizing, copy.sizing_value, copy.max_per_trade, copy.stop_loss_pct,
        copy.take_profit_pct,
    )  # fmt: skip
    _alias, terms = parse_edit(words, current)
    changed = await services.broker.copies.change_terms(user.id, copy.id, terms)
    shown = terms_text(aliases[copy.leader_id], replace(terms, amount=changed.invested))
    await context.bot.send_message(user.telegram_id, f"Changed.\n{shown}")


async def _next_step(
    context: BotContext, user: UserRecord, draft: dict[str, Any], shown: tuple[int, int] | None
) -> None:
    """Ask the next missing term, or show the preview with Confirm and Cancel."""
    services = context.services
    ttl = timedelta(seconds=services.settings.bot_confirm_seconds)
    alias = esc(draft["alias"])
    question, choices = next_question(draft, services.settings.copy_min_allocation)
    if question is None:
        following_rules.check_terms(terms_of(draft), services.settings)  # a refusal now, not after the code
    action = await services.db.transact(lambda uow: pending_actions.offer(uow, user.id, DRAFT, draft, ttl))
    if question is None:
        text = terms_text(draft["alias"], terms_of(draft))
        buttons = [[
            InlineKeyboardButton("Confirm", callback_data=f"fc:{action.token}"),
            InlineKeyboardButton("Cancel", callback_data=f"fx:{action.token}"),
        ]]  # fmt: skip
    else:
        text = f"Follow <b>{alias}</b>: {question}"
        buttons = [[InlineKeyboardButton(label, callback_data=f"fw:{action.token}:{data}") for label, data in choices]]
    markup = InlineKeyboardMarkup(buttons)
    if shown is None:
        await context.bot.send_message(user.telegram_id, text, reply_markup=markup)
    else:
        await context.bot.edit_message_text(text, shown[0], shown[1], reply_markup=markup)


def _manage_buttons(number: int, copy: CopyRecord, held: dict[int, str]) -> list[InlineKeyboardButton]:
    if copy.status is CopyStatus.STOPPING:
        return []
    pause = ("Resume", "cr") if copy.status is CopyStatus.PAUSED else ("Pause", "cp")
    row = [
        InlineKeyboardButton(f"{pause[0]} {number}", callback_data=f"{pause[1]}:{copy.id}"),
        InlineKeyboardButton(f"Stop {number}", callback_data=f"cs:{copy.id}"),
    ]
    row += [
        InlineKeyboardButton(f"Sell {symbol} ({number})", callback_data=f"cl:{copy.id}:{c}")
        for c, symbol in held.items()
    ]
    return row


async def _aliases(uow: UnitOfWork, copies: list[CopyRecord]) -> dict[UUID, str]:
    return await store.aliases_of(uow, {c.leader_id for c in copies})
