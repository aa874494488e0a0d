"""Small query functions, one per query, grouped by table family."""
