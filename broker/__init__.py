"""Will own orders and their state machine, pre-trade risk, the margin calculator, block aggregation and fill
allocation, the one shared IB connection (ib_async), order routing and market data (issues 3 and 4).
`broker/sim` holds the IB Gateway simulator (stand-alone: it imports nothing of ours)."""
