-- Line alerts (offline, GSM registration, weak signal, low balance): the
-- state each line's users were last told, so that a restart neither repeats
-- an alert nor misses a change that happened while goippy was stopped.
-- One row per channel and condition; written in the same transaction as the
-- notices that tell the users about the change.
CREATE TABLE goippy_alerts (
    goip_id      TEXT NOT NULL,
    alert        TEXT NOT NULL,
    active       INTEGER NOT NULL,
    since_unix   INTEGER NOT NULL,
    detail       TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (goip_id, alert)
);
