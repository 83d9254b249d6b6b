"""The application and the callback context of Omnibot's bot: handlers reach the services as `context.services`,
typed, rather than through string keys in `bot_data`."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, cast

from telegram.ext import Application, CallbackContext, ExtBot

from core.users import UserRecord

from .services import Services


class OmnibotApplication(Application):  # type: ignore[type-arg]
    def __init__(self, *, services: Services, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.services = services
        # The user the gate found for an update, by update id, for that update's handler (one read, not two).
        self.users_by_update: OrderedDict[int, UserRecord | None] = OrderedDict()

    def remember_user(self, update_id: int, user: UserRecord | None) -> None:
        self.users_by_update[update_id] = user
        while len(self.users_by_update) > 1000:
            self.users_by_update.popitem(last=False)


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    @property
    def services(self) -> Services:
        return self.omnibot.services

    @property
    def omnibot(self) -> OmnibotApplication:
        return cast(OmnibotApplication, self.application)
