"""What the bot's handlers reach the platform through: one typed object, built by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from alerts.desk import AlertDesk
from broker.link import BrokerLink
from broker.orders import Trading
from copytrade.desk import CopyDesk
from core.clock import Clock
from core.config import Settings
from core.crypto import FieldCipher
from core.db import Database
from core.errors import BrokerUnavailable, ConfigurationError
from payments.desk import PaymentDesk


@dataclass
class Broker:
    trading: Trading
    link: BrokerLink  # quotes, contracts, the connection's state, cancels: here or in the broker process
    copies: CopyDesk
    alerts: AlertDesk


@dataclass
class Services:
    settings: Settings
    db: Database
    clock: Clock
    cipher: FieldCipher
    broker_parts: Broker | None = None  # None where trading is not offered (tests of the bot alone)
    payment_desk: PaymentDesk | None = None  # None in a process that does not run payments

    @property
    def broker(self) -> Broker:
        if self.broker_parts is None:
            raise BrokerUnavailable("trading is not offered here")
        return self.broker_parts

    @property
    def payments(self) -> PaymentDesk:
        if self.payment_desk is None:
            raise ConfigurationError("this process does not run payments")
        return self.payment_desk
