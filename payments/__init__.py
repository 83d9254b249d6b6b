"""Will own bank accounts, deposits, withdrawals, payment providers and signed webhooks (issue 7)."""
