"""ActivityStreams 2.0 in one place: documents built from our records (actors, collections, notes, questions,
follow answers, decision records), and the wire read back into typed values (`parse`), with the JSON-LD contexts
that give every key its meaning. Pure functions: no database, no HTTP; the rest of the wire calls these."""
