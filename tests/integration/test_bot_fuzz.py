"""Whatever an investor types after a command, the bot answers it, politely, and never fails."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.botchat import BotDesk, onboard

COMMANDS = [
    "/buy", "/sell", "/quote", "/cancel", "/unlock", "/2fa", "/history", "/start", "/profile", "/nosuch",
    "/lead", "/leaders", "/leader", "/follow", "/following", "/copyedit",
    "/bank", "/deposit", "/withdraw", "/withdrawals", "/admin", "/user", "/halt",
]  # fmt: skip
WORDS = st.one_of(
    st.sampled_from(["AAPL", "all", "limit", "gtc", "10", "-5", "0", "1e9", "189.50", "$12", "@", "<b>", "&amp;"]),
    st.sampled_from(["Fuzzy", "@fuzzy", "copy", "alerts", "sl", "tp", "ratio", "fixed", "max", "open", "50%"]),
    st.sampled_from(["add", "remove", "us", "021000021", "DE89 3704 0044 0532 0130 00", "COBADEFFXXX", "1,000"]),
    st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), min_size=1, max_size=12),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(command=st.sampled_from(COMMANDS), words=st.lists(WORDS, max_size=5))
async def test_every_command_line_gets_an_answer_and_never_an_error(
    trading_bot: BotDesk, command: str, words: list[str]
) -> None:
    chat = trading_bot.chat(9001)
    if not await chat.saw("account is open"):
        await onboard(chat)
    line = " ".join([command, *words]).strip()[:4096]
    answers = await chat.send(line)
    assert answers, f"no answer to {line!r}"
    assert not any("went wrong on our side" in answer["text"] for answer in answers), line
