"""Payment providers behind one port (`base.PaymentProvider`): `sandbox` (simulated, for the demo and the
tests), `manual` (the operator pays from the bank, with exported files) and `webhook` (a bank's or provider's
notifications over HTTP, signed)."""
