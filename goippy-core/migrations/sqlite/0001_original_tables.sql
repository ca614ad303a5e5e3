-- The four tables of the original goippy, with its column names and types,
-- created only where they do not exist yet. A database the original goippy
-- created is already at this point (goippy first adds any column an older
-- version lacked, see src/store/legacy.rs), and a new one gets here the same
-- way, so every later migration upgrades both alike.

CREATE TABLE IF NOT EXISTS goippy_gateways (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    ext         TEXT UNIQUE,
    goip_id     TEXT UNIQUE,
    goip_pass   TEXT,
    channel     INTEGER,
    msisdn      TEXT,
    allow_regex TEXT,
    enabled     INTEGER DEFAULT 1,
    created_at  TEXT DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE IF NOT EXISTS goippy_state (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    goip_id        TEXT UNIQUE,
    ext            TEXT,
    msisdn         TEXT,
    gsm_signal     INTEGER,
    gsm_status     TEXT,
    voip_status    TEXT,
    voip_state     TEXT,
    remain_time    INTEGER,
    provider       TEXT,
    disable_status INTEGER,
    updated_at     TEXT DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE IF NOT EXISTS goippy_calls (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    ts         INTEGER,
    goip_id    TEXT,
    ext        TEXT,
    direction  INTEGER,
    remote_num TEXT,
    cause      TEXT,
    msisdn     TEXT,
    raw        TEXT,
    created_at TEXT DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE IF NOT EXISTS goippy_log (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    dir        TEXT,
    msisdn     TEXT,
    xmpp_jid   TEXT,
    body       TEXT,
    status     TEXT,
    created_at TEXT DEFAULT CURRENT_TIMESTAMP
);
