"""What investors get as reports: the monthly statement (its figures from the ledger; the bot draws it as a PDF),
the CSV export of their transactions, and the opt-in daily summary. May import core, ledger, broker, alerts."""
