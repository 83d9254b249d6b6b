"""One module per command family; each handler parses, calls a service, and renders. No business rule here."""
