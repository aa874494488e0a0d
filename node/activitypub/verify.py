"""Who signed this request? draft-cavage or RFC 9421, key fetched or cached, refetched once on failure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from node.activitypub import rfc9421, signatures
from node.activitypub.keys import KeyResolver
from node.activitypub.signatures import SignatureError
from node.config import Config


@dataclass(frozen=True)
class SignatureCheck:
    key_id: str
    key_owner: str
    scheme: str


def pending_signature(config: Config, method: str, raw_path: str, headers: Mapping[str, str],
                      body: bytes | None) -> signatures.PendingSignature:
    """Check headers, Date and Digest of whichever scheme the request uses; no key needed yet."""
    if "Signature-Input" in headers:
        return rfc9421.extract(method, config.base_url + raw_path, headers, body, config.host,
                               skew=config.date_skew_seconds)
    return signatures.extract(method, raw_path, headers, body, config.host, skew=config.date_skew_seconds)


async def check(pending: signatures.PendingSignature, resolver: KeyResolver, client: str | None = None
                ) -> SignatureCheck:
    """Verify against the cached key; if that fails, refetch it once (throttled per key) and try again.

    `client` (the asker's address block) is charged for any key fetched for a stranger."""
    resolved = await resolver.resolve(pending.key_id, client)
    if not pending.verify(resolved.key):
        resolved = await resolver.refetch(pending.key_id, client)
        if resolved is None or not pending.verify(resolved.key):
            raise SignatureError("the signature does not verify with the signer's key")
    await resolver.vouched(resolved.owner)
    return SignatureCheck(pending.key_id, resolved.owner, pending.scheme)
