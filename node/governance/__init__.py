"""The domain: membership, crews, decisions, splitting. Plain functions over the store; no HTTP, no JSON-LD."""
