"""HTML for people: pages that call the store and governance, never the wire."""
