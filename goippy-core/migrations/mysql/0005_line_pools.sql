-- Several lines per extension, lines shared by several extensions (a team),
-- per-line daily send limits and failover. Only additions: a row of
-- goippy_gateways stays one line (one GoIP channel), its ext the extension
-- whose default line (line 1) it is — or NULL for a line made only to be
-- shared (goippy --add-line). Everything the original goippy and `--add`
-- write keeps its meaning.

-- NULL: no cap. Outbound SMS counted per UTC day (see src/store/lines.rs).
ALTER TABLE goippy_gateways ADD COLUMN daily_limit INT NULL;

-- Further lines an extension may use. An extension's lines, in order: its
-- default line, then these rows by id (the order they were given). The id
-- orders them; (ext, goip_id) is the key.
CREATE TABLE goippy_line_users (
    id         BIGINT AUTO_INCREMENT PRIMARY KEY,
    ext        VARCHAR(32) NOT NULL,
    goip_id    VARCHAR(64) NOT NULL,
    added_unix BIGINT NOT NULL,
    UNIQUE KEY goippy_line_users_key (ext, goip_id),
    KEY goippy_line_users_goip_id (goip_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The line a conversation (extension, contact number) sends from: learned
-- from the line the contact last wrote to, unless the user pinned one
-- (`/line N`; `/line auto` unpins).
CREATE TABLE goippy_line_choice (
    ext          VARCHAR(32) NOT NULL,
    contact      VARCHAR(32) NOT NULL,
    goip_id      VARCHAR(64) NOT NULL,
    pinned       TINYINT NOT NULL DEFAULT 0,
    updated_unix BIGINT NOT NULL,
    PRIMARY KEY (ext, contact)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Per-extension settings: whether an SMS may go out on another of the
-- user's lines when the chosen one is offline, at its cap or refuses it.
CREATE TABLE goippy_ext_settings (
    ext          VARCHAR(32) NOT NULL PRIMARY KEY,
    failover     TINYINT NOT NULL DEFAULT 0,
    updated_unix BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Today's count per line: outbound SMS by channel and creation time.
CREATE INDEX goippy_log_out_day ON goippy_log (goip_id, dir, created_at);
