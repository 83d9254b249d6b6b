"""Watching prices for investors: price alerts (above, below, a move), protective orders (a stop or a target on a
position, sold through the normal order flow when hit), and the watch on abnormal situations (a deep daily
drawdown, a margin breach left uncured, the broker gone quiet). May import core, ledger and broker."""
