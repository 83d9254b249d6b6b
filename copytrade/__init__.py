"""Will own leaders, their statistics, follow settings, and mirroring a leader's fills into followers' orders
(issue 6)."""
