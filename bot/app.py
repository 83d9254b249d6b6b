"""The Telegram application: python-telegram-bot built around the services, with the gate first, the command
table's handlers, the buttons, plain text, and the central error handler. HTML is the parse mode everywhere."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from telegram import Update
from telegram.constants import ParseMode
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    ExtBot,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import HTTPXRequest

from .access import Access
from .commands import COMMANDS, menu
from .context import BotContext, OmnibotApplication
from .gate import Gate
from .guard import guarded, on_error, reply
from .handlers import (
    admin,
    banking,
    conversation,
    desk,
    following,
    leading,
    onboarding,
    portfolio,
    price_watch,
    trading,
)
from .services import Services


def build_bot(token: str, base_url: str, *, max_rate: float = 25) -> ExtBot[int]:
    """The Bot API client, HTML by default, within Telegram's flood limits: about 30 messages a second overall.
    Aim a little under (the two clocks never agree to the millisecond); a 429 (RetryAfter) is waited out and the
    request sent again. Each process has its own limiter: processes that send share `max_rate` between them."""
    return ExtBot(
        token,
        base_url=base_url,
        base_file_url=base_url.replace("/bot", "/file/bot"),
        defaults=Defaults(parse_mode=ParseMode.HTML),
        rate_limiter=AIORateLimiter(overall_max_rate=max_rate, max_retries=5),
        request=HTTPXRequest(connection_pool_size=256),
    )


def build_application(
    services: Services, token: str, base_url: str, *, bot: ExtBot[Any] | None = None
) -> OmnibotApplication:
    """The bot's application; `bot` replaces the production client (the simulation's takes 429s itself)."""
    application = (
        ApplicationBuilder()
        .bot(bot or build_bot(token, base_url, max_rate=services.settings.telegram_max_rate))
        .application_class(OmnibotApplication, kwargs={"services": services})
        .context_types(ContextTypes(context=BotContext))
        .concurrent_updates(True)
        .post_init(_post_init)
        .build()
    )
    assert isinstance(application, OmnibotApplication)
    application.add_handler(TypeHandler(Update, Gate(services.settings.bot_commands_per_minute)), group=-1)
    for command in COMMANDS:
        application.add_handler(CommandHandler(command.name, guarded(command.access, command.handler)))
    application.add_handler(CallbackQueryHandler(guarded(Access.MEMBER, onboarding.on_button), pattern=r"^ob:"))
    application.add_handler(CallbackQueryHandler(guarded(Access.INVESTOR, trading.on_guided), pattern=r"^tg:"))
    application.add_handler(CallbackQueryHandler(guarded(Access.INVESTOR, trading.on_confirm), pattern=r"^o[cx]:"))
    application.add_handler(CallbackQueryHandler(guarded(Access.INVESTOR, desk.on_cancel), pattern=r"^cx:"))
    application.add_handler(CallbackQueryHandler(guarded(Access.INVESTOR, price_watch.on_confirm), pattern=r"^p[cx]:"))
    application.add_handler(CallbackQueryHandler(guarded(Access.INVESTOR, price_watch.show_alerts), pattern=r"^aw:"))
    application.add_handler(CallbackQueryHandler(guarded(Access.INVESTOR, portfolio.history), pattern=r"^hp:"))
    application.add_handler(CallbackQueryHandler(guarded(Access.ADMIN, admin.on_menu), pattern=r"^ad:"))
    application.add_handler(CallbackQueryHandler(guarded(Access.ADMIN, admin.on_action), pattern=r"^aa:"))
    application.add_handler(CallbackQueryHandler(guarded(Access.INVESTOR, banking.on_pick), pattern=r"^wp:"))
    application.add_handler(CallbackQueryHandler(guarded(Access.INVESTOR, banking.on_cancel), pattern=r"^wc:"))
    application.add_handler(CallbackQueryHandler(guarded(Access.INVESTOR, leading.show_leaders), pattern=r"^lb:"))
    application.add_handler(CallbackQueryHandler(guarded(Access.INVESTOR, leading.show_leader), pattern=r"^lc:"))
    application.add_handler(CallbackQueryHandler(guarded(Access.INVESTOR, following.on_start), pattern=r"^fs:"))
    application.add_handler(CallbackQueryHandler(guarded(Access.INVESTOR, following.on_step), pattern=r"^f[wcx]:"))
    application.add_handler(CallbackQueryHandler(guarded(Access.INVESTOR, following.on_manage), pattern=r"^c[prskcl]:"))
    application.add_handler(CallbackQueryHandler(_stale_button))
    application.add_handler(
        MessageHandler(filters.TEXT & ~filters.COMMAND, guarded(Access.MEMBER, conversation.on_text))
    )
    application.add_handler(MessageHandler(filters.COMMAND, _unknown_command))
    application.add_error_handler(on_error)
    return application


@asynccontextmanager
async def polling(application: OmnibotApplication, *, poll_timeout: int = 10) -> AsyncIterator[None]:
    """Run the bot by long polling inside the running event loop (beside the IB connection and the rest, so not
    with run_polling, which owns the loop), until the block exits."""
    await application.initialize()
    if application.post_init is not None:
        await application.post_init(application)
    await application.start()
    assert application.updater is not None
    await application.updater.start_polling(poll_interval=0.0, timeout=poll_timeout, drop_pending_updates=False)
    try:
        yield
    finally:
        await application.updater.stop()
        await application.stop()
        await application.shutdown()


async def _post_init(application: Application) -> None:  # type: ignore[type-arg]
    await application.bot.set_my_commands(menu())


async def _unknown_command(update: Update, _context: BotContext) -> None:
    await reply(update, "I do not know that command. Send /help to see what I can do.")


async def _stale_button(update: Update, _context: BotContext) -> None:
    """A press that no handler claims: a button from an old message, or data no button of ours carries."""
    assert update.callback_query is not None
    await update.callback_query.answer("This button is no longer valid. Nothing was done.", show_alert=True)
