"""Copy trading: investors who lead (`leaders`), their statistics (`stats`), those who follow them for alerts
or copies (`follow`), and the mirroring of a leader's fills into their copiers' orders (`mirror`), sized by
`sizing`. A copy trades with money of its own: a sleeve of the follower's books (ledger.accounts.AccountSpec)."""
