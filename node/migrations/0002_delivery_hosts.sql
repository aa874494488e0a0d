-- Delivery rows learn their host (for per-host limits and the breaker), a clock time of creation (for the
-- 7-day give-up) and a lease separate from the due time (so "due now" never re-sends a row in flight).
ALTER TABLE deliveries ADD COLUMN host TEXT NOT NULL DEFAULT '';
ALTER TABLE deliveries ADD COLUMN created_ts REAL NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN lease_until REAL NOT NULL DEFAULT 0;

UPDATE deliveries SET
    host = lower(CASE WHEN instr(substr(inbox, instr(inbox, '://') + 3), '/') > 0
                      THEN substr(substr(inbox, instr(inbox, '://') + 3), 1,
                                  instr(substr(inbox, instr(inbox, '://') + 3), '/') - 1)
                      ELSE substr(inbox, instr(inbox, '://') + 3) END),
    created_ts = (julianday(created_at) - 2440587.5) * 86400.0;

CREATE INDEX deliveries_host ON deliveries (host, next_attempt_at) WHERE state = 'queued';

-- What we know of each remote host we deliver to: the circuit breaker's state.
CREATE TABLE hosts (
    host TEXT PRIMARY KEY,
    first_failure_at REAL,
    last_failure_at REAL,
    last_success_at REAL,
    unavailable INTEGER NOT NULL DEFAULT 0,
    next_probe_at REAL,
    last_error TEXT
);
