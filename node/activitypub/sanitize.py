"""HTML in posts: what the network sends is cleaned with nh3 (Ammonia); what a person types becomes safe HTML."""

from __future__ import annotations

import html
import re

import nh3

MAX_CONTENT = 100_000
TAGS = {"p", "br", "a", "span", "strong", "em", "b", "i", "u", "s", "del", "code", "pre", "blockquote",
        "ul", "ol", "li"}
ATTRIBUTES = {"a": {"href"}}
# The classes Mastodon uses to render mentions, hashtags and shortened links.
CLASSES = {"a": {"mention", "hashtag", "u-url"}, "span": {"h-card", "invisible", "ellipsis"}}
URL_RE = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")


def clean_html(text: str) -> str:
    """Untrusted HTML → HTML with only formatting and http(s)/mailto links left."""
    return nh3.clean(text[:MAX_CONTENT], tags=TAGS, attributes=ATTRIBUTES, allowed_classes=CLASSES,
                     clean_content_tags={"script", "style"}, url_schemes={"http", "https", "mailto"},
                     link_rel="nofollow noopener noreferrer")


def _linkify(escaped: str) -> str:
    return URL_RE.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)


def text_to_html(text: str) -> str:
    """Plain text → escaped paragraphs, single newlines as <br>, URLs as links."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    parts = ["<p>" + _linkify(html.escape(p, quote=True)).replace("\n", "<br>") + "</p>" for p in paragraphs]
    return clean_html("".join(parts))
