"""The use cases: each opens the transaction, calls governance (which returns typed events), and federates those
events through the outbound registry in the same transaction. The web, the CLI, the demo and the inbound
handlers call these; nothing above this layer writes to the outbox or the delivery queue."""
