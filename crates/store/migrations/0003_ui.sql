-- What the web UI needs: browser sessions, and the component bindings of stored revisions.
--
-- Portable SQL, like 0001 and 0002 (same conventions).

-- A browser session: the cookie value is a random secret; only its SHA-256 (hex) is stored. A
-- session acts for the token it was opened with (its name and role, read from `tokens` on every
-- request), so deleting the token ends its sessions (ON DELETE CASCADE). `expires_at` is ms since
-- the Unix epoch; expired rows are ignored and removed when sessions are opened.
CREATE TABLE sessions (
    hash       TEXT   NOT NULL PRIMARY KEY,
    token_id   TEXT   NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    created_at TEXT   NOT NULL,
    expires_at BIGINT NOT NULL
);
-- A token's sessions, oldest first (the per-token cap), and expired sessions (clean-up).
CREATE INDEX sessions_by_token ON sessions (token_id, expires_at);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

-- How a revision's component paths resolve on the server: a JSON object
-- {"./components/git-clone": "git-clone@1.0.0", …} (the reference as written → a registered
-- component version). The text of the revision stays exactly as submitted.
ALTER TABLE workflow_revisions ADD COLUMN components TEXT NOT NULL DEFAULT '{}';
