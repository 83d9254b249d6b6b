"""Will own the Telegram front end (python-telegram-bot): the command table, handlers per command family,
keyboards, rendering, charts and the notifier; and, in `bot/emulator`, a local Bot API for the demo and the
end-to-end tests (issue 5)."""
