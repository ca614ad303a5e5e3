-- Several lines per extension, lines shared by several extensions (a team),
-- per-line daily send limits and failover. Only additions: a row of
-- goippy_gateways stays one line (one GoIP channel), its ext the extension
-- whose default line (line 1) it is — or NULL for a line made only to be
-- shared (goippy --add-line). Everything the original goippy and `--add`
-- write keeps its meaning.

-- NULL: no cap. Outbound SMS counted per UTC day (see src/store/lines.rs).
ALTER TABLE goippy_gateways ADD COLUMN daily_limit INTEGER;

-- Further lines an extension may use. An extension's lines, in order: its
-- default line, then these rows by id (the order they were given). The id
-- orders them; (ext, goip_id) is the key.
CREATE TABLE goippy_line_users (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    ext        TEXT NOT NULL,
    goip_id    TEXT NOT NULL,
    added_unix INTEGER NOT NULL
);
CREATE UNIQUE INDEX goippy_line_users_key ON goippy_line_users (ext, goip_id);
CREATE INDEX goippy_line_users_goip_id ON goippy_line_users (goip_id);

-- The line a conversation (extension, contact number) sends from: learned
-- from the line the contact last wrote to, unless the user pinned one
-- (`/line N`; `/line auto` unpins).
CREATE TABLE goippy_line_choice (
    ext          TEXT NOT NULL,
    contact      TEXT NOT NULL,
    goip_id      TEXT NOT NULL,
    pinned       INTEGER NOT NULL DEFAULT 0,
    updated_unix INTEGER NOT NULL,
    PRIMARY KEY (ext, contact)
);

-- Per-extension settings: whether an SMS may go out on another of the
-- user's lines when the chosen one is offline, at its cap or refuses it.
CREATE TABLE goippy_ext_settings (
    ext          TEXT PRIMARY KEY,
    failover     INTEGER NOT NULL DEFAULT 0,
    updated_unix INTEGER NOT NULL
);

-- Today's count per line: outbound SMS by channel and creation time.
CREATE INDEX goippy_log_out_day ON goippy_log (goip_id, dir, created_at);
