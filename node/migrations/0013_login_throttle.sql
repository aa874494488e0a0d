-- Sign-in attempts still inside the throttle's window, so a restart does not hand an attacker a fresh allowance.
-- `key` is what is limited: 'h:<handle>' or 'a:<client address, IPv6 by /64>'; `at` is the node's clock in
-- seconds. Rows older than the window are deleted as new attempts come in.
CREATE TABLE login_attempts (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX login_attempts_key_at ON login_attempts (key, at);
CREATE INDEX login_attempts_at ON login_attempts (at);
