"""Server-rendered HTML views of actors (the web UI proper arrives with the members issue)."""

from __future__ import annotations

from html import escape

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
