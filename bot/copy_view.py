"""Copy trading as the investor reads it: a leader's card and leaderboard line, a copy's terms and summary, and
the notes copy trading pushes (a trade alert, a skipped trade, a copy stopping)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from copytrade.board import Entry
from copytrade.stats import LeaderStats
from copytrade.store import CopyRecord, LeaderRecord
from copytrade.terms import CopyMode, CopyTerms, Sizing

from .render import esc, shares, usd


def pct(ratio: Decimal | None) -> str:
    return "n/a" if ratio is None else f"{ratio * 100:+.1f}%"


def leader_card(leader: LeaderRecord, stats: LeaderStats) -> str:
    share = f"{leader.profit_share_pct.normalize():f}% of new profits" if leader.profit_share_pct else "none"
    holding = stats.average_holding
    held = f"{holding.days} d {holding.seconds // 3600} h" if holding is not None else "n/a"
    lines = [
        f"<b>{esc(leader.alias)}</b> (risk {stats.risk_score}/7)",
        esc(leader.description) if leader.description else "",
        "<pre>",
        f"7 days   {pct(stats.return_7d):>8}   30 days  {pct(stats.return_30d):>8}",
        f"90 days  {pct(stats.return_90d):>8}   1 year   {pct(stats.return_365d):>8}",
        f"Since start {pct(stats.return_since_start):>8} ({stats.track_record_days} days)",
        f"Max drawdown {stats.max_drawdown * 100:.1f}%",
        f"Sharpe {stats.sharpe:.2f}" if stats.sharpe is not None else "Sharpe n/a",
        f"Win rate {pct(stats.win_rate).lstrip('+')} of {stats.closed_trips} closed trades",
        f"Trades {stats.trades}, average holding {held}",
        f"Followers {stats.followers}, copied {usd(stats.copied_aum)}",
        "</pre>",
        f"Profit share: {share}.",
    ]
    return "\n".join(line for line in lines if line)


def board_line(rank: int, entry: Entry) -> str:
    stats = entry.stats
    return (
        f"{rank}. <b>{esc(entry.leader.alias)}</b> {pct(entry.headline_return)}, drawdown "
        f"{stats.max_drawdown * 100:.0f}%, risk {stats.risk_score}, {stats.followers} followers"
    )


def terms_text(alias: str, terms: CopyTerms) -> str:
    if terms.mode is CopyMode.ALERTS:
        return f"Follow <b>{esc(alias)}</b> for alerts: a message for each of their trades. Nothing is traded."
    lines = [
        f"Copy <b>{esc(alias)}</b>'s trades with {usd(terms.amount)}, moved now from your free cash into the copy.",
        f"Sizing: {sizing_text(terms)}.",
        f"Stop-loss: the copy closes if it loses {terms.stop_loss_pct}% of what you put in.",
    ]
    gain = terms.take_profit_pct
    lines.append(f"Take-profit: the copy closes after a gain of {gain}%." if gain else "Take-profit: none.")
    if terms.max_per_trade:
        lines.append(f"At most {usd(terms.max_per_trade)} per trade.")
    lines.append("Their open positions are bought now too." if terms.copy_open_positions else "New trades only.")
    return "\n".join(lines)


def sizing_text(terms: CopyTerms | CopyRecord) -> str:
    if terms.sizing is Sizing.RATIO:
        return f"{terms.sizing_value} share(s) for each of theirs"
    if terms.sizing is Sizing.FIXED_AMOUNT:
        return f"about {usd(terms.sizing_value or Decimal(0))} per trade"
    return "in proportion to your copy's size and theirs"


def copy_summary(number: int, alias: str, copy: CopyRecord, equity: Decimal | None, positions: str) -> str:
    state = copy.status.value
    if copy.mode is CopyMode.ALERTS:
        return f"{number}. <b>{esc(alias)}</b>: alerts, {state}"
    value = ""
    if equity is not None and copy.invested:
        value = f", now {usd(equity)} ({pct(equity / copy.invested - 1)})"
    limits = f"stop-loss {copy.stop_loss_pct}%" + (
        f", take-profit {copy.take_profit_pct}%" if copy.take_profit_pct else ""
    )
    lines = [f"{number}. <b>{esc(alias)}</b>: copy, {state}. Put in {usd(copy.invested)}{value}; {limits}."]
    if positions:
        lines.append(f"   {positions}")
    return "\n".join(lines)


def copy_note(topic: str, payload: dict[str, Any]) -> str | None:
    """The message a copy-trading fact becomes, for the investor it names (None: nothing to say)."""
    alias, reason = esc(payload.get("leader", "")), esc(payload.get("reason", ""))
    trade = ""
    if "symbol" in payload:
        verb = "bought" if payload["side"] == "buy" else "sold"
        quantity, price = Decimal(payload["quantity"]), Decimal(payload["price"])
        trade = f"{verb} {shares(quantity)} {esc(payload['symbol'])} at {usd(price)}"
    texts = {
        "copy.stopping": f"Your copy of <b>{alias}</b> is stopping ({reason}): closing it out.",
        "copy.stopped": f"Your copy of <b>{alias}</b> has stopped ({reason}). Its money is back in your cash.",
        "copy.alert": f"<b>{alias}</b> {trade}.",
        "copy.skipped": f"Your copy of <b>{alias}</b> did not follow their trade ({trade}): {reason}.",
        "copy.leader_inactive": f"<b>{alias}</b>'s trade was not copied: their account is not active.",
        "copy.profit_share_paid": (
            f"Profit share for {esc(payload.get('month', ''))}: {usd(Decimal(payload.get('amount', '0')))} "
            f"paid to <b>{alias}</b> on your copy's new profit."
        ),
        "copy.profit_share_received": (
            f"Profit share for {esc(payload.get('month', ''))}: {usd(Decimal(payload.get('amount', '0')))} "
            "received from a copier's new profit."
        ),
        "copy.leader_pending": f"Your leader profile <b>{alias}</b> is waiting for an admin's approval.",
        "copy.leader_active": f"Your leader profile <b>{alias}</b> is live: investors can follow you now.",
        "copy.leader_rejected": f"Your leader profile <b>{alias}</b> was not approved.",
    }
    return texts.get(topic)
