"""The investors' books, double entry: accounts (`accounts`), the money policy (`money`), entries and their
balancing rule (`entries`), two-phase holds (`holds`), the services that book them (`service`), cash movements
(`operations`), fills with cost basis and realized P&L (`trades`, `positions`), instruments (`instruments`) and
statements (`statement`). Only `store` and `models` know SQL. Valuation, NAV history and reconciliation against
the broker arrive with the trading and admin issues."""
