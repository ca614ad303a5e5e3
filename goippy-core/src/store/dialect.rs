//! The SQL that differs between SQLite and MySQL/MariaDB, side by side.
//!
//! The queries in `store/queries.rs` are written once; where the two
//! dialects part, they say `sql!($d, <what>)` with `$d` either `sqlite` or
//! `mysql`. Every arm expands to a string literal (or a `concat!` of them),
//! so the finished queries are still `&'static str` made at compile time.
//! Anything longer than a fragment that only one backend runs (connecting,
//! adopting an original database) stays in that backend's file.

macro_rules! sql {
    // An integer column of whatever declared type (the original's
    // TINYINT(1) and INT, SQLite's free typing), as the 64-bit integer both
    // drivers decode alike.
    (sqlite, int $e:literal) => { concat!("CAST(", $e, " AS INTEGER)") };
    (mysql,  int $e:literal) => { concat!("CAST(", $e, " AS SIGNED)") };

    // A timestamp column of the original schema (SQLite TEXT, MySQL
    // TIMESTAMP), as Unix seconds; see `store/time.rs`.
    (sqlite, unix $col:literal) => { concat!("unixepoch(", $col, ")") };
    (mysql,  unix $col:literal) => { concat!("CAST(UNIX_TIMESTAMP(", $col, ") AS SIGNED)") };

    // A Unix-seconds parameter, as a value for such a column.
    (sqlite, from_unix) => { "datetime(?, 'unixepoch')" };
    (mysql,  from_unix) => { "FROM_UNIXTIME(?)" };

    // Deletes at most `?` (the last parameter) rows of `$table` that match.
    // SQLite is built without DELETE … LIMIT, so it picks the ids first.
    (sqlite, delete_some $table:literal where $cond:expr) => {
        concat!("DELETE FROM ", $table, " WHERE id IN (SELECT id FROM ", $table,
                " WHERE ", $cond, " LIMIT ?)")
    };
    (mysql, delete_some $table:literal where $cond:expr) => {
        concat!("DELETE FROM ", $table, " WHERE ", $cond, " LIMIT ?")
    };

    // Ends an INSERT so that a row whose unique `$key` exists gets these
    // columns from the new row instead (MySQL goes by whichever unique key
    // clashes; `$key` is the only one these tables have besides `id`).
    (sqlite, upsert ($key:literal) $first:literal $(, $col:literal)* $(,)?) => {
        concat!("ON CONFLICT (", $key, ") DO UPDATE SET ", $first, " = excluded.", $first
                $(, ", ", $col, " = excluded.", $col)*)
    };
    (mysql, upsert ($key:literal) $first:literal $(, $col:literal)* $(,)?) => {
        concat!("ON DUPLICATE KEY UPDATE ", $first, " = VALUES(", $first, ")"
                $(, ", ", $col, " = VALUES(", $col, ")")*)
    };

    // Starts a transaction that will write: SQLite takes its one write lock
    // at once (a plain BEGIN would fail with SQLITE_BUSY at the first write
    // instead of waiting its busy timeout).
    (sqlite, begin_write) => { "BEGIN IMMEDIATE" };
    (mysql,  begin_write) => { "BEGIN" };

    // Ends a SELECT, inside a write transaction, that must wait for a writer
    // still committing the rows it reads instead of missing them: InnoDB's
    // consistent read does not wait, its share lock does; on SQLite the
    // transaction's BEGIN IMMEDIATE already waited for the write lock.
    (sqlite, locking_read) => { "" };
    (mysql,  locking_read) => { " LOCK IN SHARE MODE" };

    // Ends the INSERT of a `goippy_counters` row: a counter only goes up.
    (sqlite, upsert_counter) => {
        "ON CONFLICT (name) DO UPDATE SET value = MAX(value, excluded.value), \
         updated_unix = excluded.updated_unix"
    };
    (mysql, upsert_counter) => {
        "ON DUPLICATE KEY UPDATE value = GREATEST(value, VALUES(value)), \
         updated_unix = VALUES(updated_unix)"
    };
}

pub(super) use sql;
