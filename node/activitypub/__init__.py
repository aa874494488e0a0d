"""The wire: ActivityPub documents, signatures, discovery, inbox and delivery. Nothing else speaks JSON-LD."""
