"""The application and the callback context of Omnibot's bot: handlers reach the services as `context.services`,
typed, rather than through string keys in `bot_data`."""

from __future__ import annotations

from typing import Any, cast

from telegram.ext import Application, CallbackContext, ExtBot

from .services import Services


class OmnibotApplication(Application):  # type: ignore[type-arg]
    def __init__(self, *, services: Services, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.services = services


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    @property
    def services(self) -> Services:
        return cast(OmnibotApplication, self.application).services
