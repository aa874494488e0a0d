"""The one way an outbound HTTP client is made: the SSRF guard and limits from the settings, and every request
signed with an actor's key (the Group's for the node, the member's where a member acts)."""

from __future__ import annotations

from node import uris
from node.activitypub.fetch import HttpClient
from node.activitypub.signatures import load_private_key, sign
from node.config import Config
from node.store.local_actors import LocalActor


def signing_client(config: Config, actor: LocalActor, **options) -> HttpClient:
    """An HttpClient whose requests carry `actor`'s HTTP signature (authorized fetch works everywhere)."""
    private_key = load_private_key(actor.private_key_pem)
    kid = uris.key(config, actor.username)

    def signer(method: str, url: str, body: bytes | None, content_type: str | None) -> dict[str, str]:
        return sign(method, url, kid, private_key, body, content_type)

    return HttpClient(allow_private=config.allow_private_addresses, max_bytes=config.fetch_max_bytes,
                      connect_timeout=config.fetch_connect_timeout, total_timeout=config.fetch_total_timeout,
                      max_redirects=config.fetch_max_redirects, signer=signer, **options)
