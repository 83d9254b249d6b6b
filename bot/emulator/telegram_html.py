"""Telegram's HTML parse mode, checked as the Bot API checks it: only its tags, properly nested, and `&` only as
the start of an entity. Gives the visible text (what the 4096-character limit counts) or the reason for a 400."""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre", "tg-spoiler", "span"}
    | {"blockquote", "tg-emoji"}
)
_ENTITY = re.compile(r"&(#\d+|#x[0-9a-fA-F]+|lt|gt|amp|quot);")


class EntityError(ValueError):
    """The text is not valid Telegram HTML; the message is the Bot API's description after its prefix."""


def visible_text(html: str) -> str:
    """The text a reader sees; raises EntityError where Telegram answers 400 "can't parse entities"."""
    for match in re.finditer("&", html):
        if not _ENTITY.match(html, match.start()):
            raise EntityError(f"Character '&' is reserved and must be escaped at byte offset {match.start()}")
    parser = _Checker()
    parser.feed(html)
    parser.close()
    if parser.open_tags:
        raise EntityError(f'Can\'t find end tag corresponding to start tag "{parser.open_tags[-1]}"')
    return "".join(parser.text)


class _Checker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.open_tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in TAGS:
            raise EntityError(f'Unsupported start tag "{tag}"')
        if tag == "span" and ("class", "tg-spoiler") not in attrs:
            raise EntityError('Unsupported start tag "span"')
        self.open_tags.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open_tags or self.open_tags[-1] != tag:
            raise EntityError(f'Unmatched end tag "{tag}"')
        self.open_tags.pop()

    def handle_data(self, data: str) -> None:
        if "<" in data:
            raise EntityError("Unsupported start tag: '<' must be escaped as &lt;")
        self.text.append(data)

    def handle_entityref(self, name: str) -> None:
        self.text.append(unescape(f"&{name};"))

    def handle_charref(self, name: str) -> None:
        self.text.append(unescape(f"&#{name};"))
