"""Settings, read from the environment (prefix OMNIBOT_) and an optional `.env` file.

Every setting is documented in docs/configuration.md; a test keeps the two in step.
Secrets are `SecretStr`, so printing the settings never shows them. Any setting may instead come from a file,
named by `OMNIBOT_<NAME>_FILE` (Docker's and Kubernetes' secrets), so a secret need not sit in the environment.
"""

from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from core.errors import ConfigurationError

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./omnibot.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OMNIBOT_", env_file=".env", env_file_encoding="utf-8", extra="ignore")

    environment: Literal["development", "production"] = "development"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["auto", "json", "text"] = "auto"  # auto: JSON in production, readable in development
    http_host: str = "127.0.0.1"  # /healthz, /readyz, /metrics and the Telegram webhook
    http_port: int = Field(default=8081, ge=0, le=65535)  # 0: no HTTP site

    database_url: SecretStr = SecretStr(DEFAULT_DATABASE_URL)
    database_pool_size: int = Field(default=10, ge=1, le=200)
    database_max_overflow: int = Field(default=10, ge=0, le=200)
    database_retry_attempts: int = Field(default=5, ge=1, le=50)
    sqlite_busy_timeout_ms: int = Field(default=10_000, ge=0)

    ib_host: str = "127.0.0.1"
    ib_port: int = Field(default=4002, ge=1, le=65535)
    ib_client_id: int = Field(default=1, ge=0)
    ib_account: str = ""
    ib_connect_timeout_seconds: float = Field(default=10, gt=0)
    ib_reconnect_min_seconds: float = Field(default=1, gt=0)
    ib_reconnect_max_seconds: float = Field(default=60, gt=0)
    ib_max_messages_per_second: int = Field(default=45, ge=1, le=50)
    ib_commission_wait_seconds: float = Field(default=3, gt=0)
    ib_connectivity_grace_seconds: float = Field(default=30, gt=0)
    ib_market_data_type: Literal[1, 3] = 1

    trading_block_window_ms: int = Field(default=200, ge=0, le=10_000)
    trading_max_order_notional: Decimal = Field(default=Decimal(250_000), gt=0)
    trading_price_collar_pct: Decimal = Field(default=Decimal(10), gt=0, le=100)
    trading_market_buffer_pct: Decimal = Field(default=Decimal(5), ge=0, le=100)
    trading_orders_per_minute: int = Field(default=20, ge=1)
    trading_whatif_notional: Decimal = Field(default=Decimal(100_000), gt=0)
    margin_initial_pct: Decimal = Field(default=Decimal(50), gt=0, le=100)
    margin_maintenance_pct: Decimal = Field(default=Decimal(25), gt=0, le=100)
    margin_low_price: Decimal = Field(default=Decimal(5), ge=0)
    margin_lending_capacity: Decimal = Field(default=Decimal(0), ge=0)

    reconciliation_minutes: float = Field(default=15, gt=0)
    reconciliation_grace_seconds: int = Field(default=120, ge=0)
    reconciliation_cash_tolerance: Decimal = Field(default=Decimal("0.01"), ge=0)
    reconciliation_halt: bool = False
    copy_leader_approval: bool = True  # an admin approves each new leader before anyone can follow them
    copy_max_profit_share_pct: Decimal = Field(default=Decimal(30), ge=0, le=50)
    copy_min_allocation: Decimal = Field(default=Decimal(200), gt=0)
    copy_min_order_value: Decimal = Field(default=Decimal(25), ge=0)  # smaller copied orders are skipped
    copy_signal_poll_seconds: float = Field(default=1.0, gt=0)
    copy_limit_watch_seconds: float = Field(default=5.0, gt=0)

    alerts_max_per_investor: int = Field(default=50, ge=1, le=1000)
    alerts_default_cooldown_minutes: int = Field(default=60, ge=1)  # between two firings of a repeating alert
    alerts_sync_seconds: float = Field(default=30, gt=0)  # how often alerts set elsewhere are read again
    alerts_broker_down_seconds: float = Field(default=60, gt=0)  # admins hear of a longer outage
    risk_watch_minutes: float = Field(default=5, gt=0)  # every account valued, drawdowns and margin checked
    risk_drawdown_alert_pct: Decimal = Field(default=Decimal(5), gt=0, le=100)  # a day's fall that is told
    margin_call_policy: Literal["notify", "liquidate"] = "notify"
    margin_call_grace_hours: float = Field(default=24, ge=0)  # before the policy acts on an uncured call

    payments_provider: Literal["sandbox", "manual"] = "sandbox"
    payments_bank_name: str = "Sandbox Bank"
    payments_bank_holder: str = "Omnibot Platform Ltd"
    payments_bank_iban: str = "DE89370400440532013000"  # where investors send deposits (the sandbox's: a test IBAN)
    payments_bank_bic: str = "COBADEFFXXX"
    payments_payout_currency: str = Field(default="USD", min_length=3, max_length=3)
    payments_bank_cooldown_hours: int = Field(default=24, ge=0)
    payments_deposit_min: Decimal = Field(default=Decimal(10), gt=0)
    payments_deposit_hold_days: int = Field(default=5, ge=0, le=30)
    payments_withdrawal_min: Decimal = Field(default=Decimal(10), gt=0)
    payments_withdrawal_daily_limit: Decimal = Field(default=Decimal(50_000), gt=0)
    payments_auto_approve_below: Decimal = Field(default=Decimal(1_000), ge=0)
    payments_return_window_days: int = Field(default=60, ge=1)
    payments_poll_seconds: float = Field(default=2.0, gt=0)
    payments_webhook_secret: SecretStr | None = None
    payments_webhook_host: str = "127.0.0.1"
    payments_webhook_port: int = Field(default=8090, ge=1, le=65535)
    payments_webhook_tolerance_seconds: int = Field(default=300, ge=1)
    payments_sandbox_settle_seconds: float = Field(default=30, ge=0)
    payments_sandbox_deposit_seconds: float = Field(default=5, ge=0)
    payments_sandbox_failure_rate: float = Field(default=0.0, ge=0, le=1)
    payments_sandbox_auto_deposit: bool = True

    totp_issuer: str = "Omnibot"
    totp_max_failures: int = Field(default=5, ge=1, le=100)
    totp_lockout_minutes: int = Field(default=15, ge=1)
    totp_session_minutes: int = Field(default=15, ge=1, le=24 * 60)

    telegram_token: SecretStr | None = None
    telegram_base_url: str = "https://api.telegram.org/bot"
    telegram_max_rate: float = Field(default=25, gt=0, le=30)  # messages a second, per process that sends
    telegram_webhook_url: str | None = None  # set: bot processes take updates by webhook, not by polling
    telegram_webhook_secret: SecretStr | None = None  # Telegram's rule: 1-256 of A-Z a-z 0-9 _ -; we ask 16 or more
    bot_commands_per_minute: int = Field(default=30, ge=1)
    bot_confirm_seconds: int = Field(default=120, ge=10, le=3600)
    kyc_auto_approve: bool = False
    # Telegram ids made admins when they /start (and at every start of the bot): "111,222".
    admin_telegram_ids: Annotated[frozenset[int], NoDecode] = frozenset()

    audit_key: SecretStr | None = None
    encryption_keys: SecretStr | None = None
    blind_index_key: SecretStr | None = None

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_-]{16,256}", value.get_secret_value()):
            raise ValueError("16 to 256 letters, digits, _ or - (what Telegram accepts, and long enough to guess)")
        return value

    @field_validator("admin_telegram_ids", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(int(part) for part in value.replace(" ", "").split(",") if part)
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, FromFiles(settings_cls), dotenv_settings


class FromFiles(PydanticBaseSettingsSource):
    """`OMNIBOT_<NAME>_FILE=/run/secrets/name`: the setting is that file's content, without its final newline."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # __call__ reads them all

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name in self.settings_cls.model_fields:
            variable = f"OMNIBOT_{name.upper()}_FILE"
            path = os.environ.get(variable)
            if not path:
                continue
            try:
                values[name] = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                raise ConfigurationError(f"{variable}: cannot read {path} ({exc.strerror})") from None
        return values


def load_settings() -> Settings:
    """The settings from the environment, or a ConfigurationError naming each setting that is wrong."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = [f"OMNIBOT_{'_'.join(map(str, error['loc'])).upper()}: {error['msg']}" for error in exc.errors()]
        raise ConfigurationError("; ".join(problems)) from None
