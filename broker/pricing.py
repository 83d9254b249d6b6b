"""What an order is expected to cost before it fills: the reference price, IB's commission, and the amount a buy
holds. Pure functions; the figures follow IB's fixed pricing for US stocks (USD 0.005 a share, at least USD 1.00,
at most 1 % of the trade value)."""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

from core.errors import InvalidPrice, InvalidQuantity, NotTradable, PriceOutsideCollar
from ledger.money import CENT, ZERO, product

from .events import Quote
from .order_states import OrderSide

PER_SHARE, MINIMUM, MAXIMUM_SHARE = Decimal("0.005"), Decimal("1.00"), Decimal("0.01")
PRICE_PLACES = 4  # IB's tick for US stocks is 0.01 above USD 1, 0.0001 below


def whole_shares(quantity: object) -> Decimal:
    """The quantity as a positive whole number of shares, or InvalidQuantity."""
    try:
        value = Decimal(str(quantity).strip()) if not isinstance(quantity, Decimal) else quantity
    except ArithmeticError:
        raise InvalidQuantity(quantity) from None
    if isinstance(quantity, bool | float) or not value.is_finite() or value <= 0 or value != value.to_integral_value():
        raise InvalidQuantity(quantity)
    if value > 10_000_000:
        raise InvalidQuantity(quantity)
    return value.quantize(Decimal(1))


def limit_price(price: object) -> Decimal:
    try:
        value = Decimal(str(price).strip()) if not isinstance(price, Decimal) else price
    except ArithmeticError:
        raise InvalidPrice(price, "not a number") from None
    if isinstance(price, bool | float) or not value.is_finite() or value <= 0:
        raise InvalidPrice(price, "a price is a positive number")
    if value != value.quantize(Decimal(1).scaleb(-PRICE_PLACES)) or value >= 1_000_000:
        raise InvalidPrice(price, f"at most {PRICE_PLACES} decimal places and below 1,000,000")
    return value


def reference_price(quote: Quote, side: OrderSide, symbol: str) -> Decimal:
    """What a market order is expected to trade at: the ask for a buy, the bid for a sale, else the last."""
    price = (quote.ask if side is OrderSide.BUY else quote.bid) or quote.last or quote.close
    if price is None or price <= 0:
        raise NotTradable(symbol, "no price is available for it right now")
    return price


def estimated_commission(quantity: Decimal, price: Decimal) -> Decimal:
    value = product(quantity, price)
    commission = max(MINIMUM, product(quantity, PER_SHARE))
    return _cents_up(min(commission, max(MINIMUM, value * MAXIMUM_SHARE)))


def buy_hold(quantity: Decimal, price: Decimal, *, market: bool, buffer_pct: Decimal) -> Decimal:
    """The cash a buy sets aside: its price (plus a buffer for a market order) times the quantity, plus the
    commission, rounded up to the cent. Fills post against it at their real figures; the rest is released."""
    worst = price * (1 + buffer_pct / 100) if market else price
    return _cents_up(product(quantity, worst)) + estimated_commission(quantity, worst)


def check_collar(price: Decimal, last: Decimal | None, collar_pct: Decimal) -> None:
    """A limit price more than `collar_pct` away from the last price is refused (a fat finger, most often)."""
    if last is None or last <= 0:
        return
    low, high = _cents_up(last * (1 - collar_pct / 100)), (last * (1 + collar_pct / 100)).quantize(CENT)
    if not low <= price <= high:
        raise PriceOutsideCollar(price, last, low, high)


def _cents_up(amount: Decimal) -> Decimal:
    return max(ZERO, amount).quantize(CENT, rounding=ROUND_CEILING)
