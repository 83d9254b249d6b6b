"""A local stand-in for the Telegram Bot API over HTTP, with a test API and a web chat page, for the demo and the
end-to-end tests. It implements the protocol from the outside: it imports nothing of ours, and not `telegram`."""
