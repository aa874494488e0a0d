"""Server-rendered HTML views of actors (the web UI proper arrives with the members issue)."""

from __future__ import annotations

import re
from html import escape, unescape

from node.config import Config
from node.store.local_actors import LocalActor

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="alternate" type="application/activity+json" href="{actor_url}">
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#222}}
.handle{{color:#555}} dl{{display:grid;grid-template-columns:auto 1fr;gap:.25rem 1rem}}</style>
</head><body><main>
<h1>{name}</h1>
<p class="handle">@{username}@{host} · {kind}</p>
<p>{summary}</p>
<dl>{facts}</dl>
</main></body></html>
"""


def actor_page(config: Config, actor: LocalActor, actor_url: str, facts: dict[str, str]) -> str:
    kind = "Congregation" if actor.kind == "Group" else "Member"
    return PAGE.format(
        title=escape(f"{actor.display_name} (@{actor.username}@{config.host})"),
        actor_url=escape(actor_url), name=escape(actor.display_name), username=escape(actor.username),
        host=escape(config.host), kind=kind, summary=escape(actor.summary),
        facts="".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in facts.items()),
    )


POST_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="alternate" type="application/activity+json" href="{post_url}">
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#222}}
.meta{{color:#555}} article{{border-left:3px solid #ccd;padding-left:1rem}}</style>
</head><body><main>
<article>
<p class="meta"><a href="{author_url}">{author_name}</a> ·
<time datetime="{published}">{published_text}</time>{edited}</p>
{content}
</article>
</main></body></html>
"""


def post_page(author: LocalActor, author_url: str, post_url: str, content_html: str, published: str,
              updated: str | None) -> str:
    """A public post for people; `content_html` was sanitised when it was stored."""
    return POST_PAGE.format(
        title=escape(f"{author.display_name}: {_plain_excerpt(content_html)}"), post_url=escape(post_url),
        author_url=escape(author_url), author_name=escape(author.display_name), published=escape(published),
        published_text=escape(published[:16].replace("T", " ")),
        edited=" · edited" if updated else "", content=content_html,
    )


def _plain_excerpt(html: str, limit: int = 60) -> str:
    text = re.sub(r"<[^>]+>", " ", html)
    text = " ".join(unescape(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
