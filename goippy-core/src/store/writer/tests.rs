//! The writer against a real SQLite file, stalled for real: a second
//! connection holds the write lock, as an admin's shell or a VACUUM would.
//! A server that commits and then stops answering, which a local file
//! cannot do, is played by [`Faulty`]: the real database with two switches.

use super::super::apply::Batches;
use super::super::db::Db;
use super::super::records::{InboundKind, InboundRecord, LogId, OutboundKind, OutboundRecord};
use super::*;

use std::sync::atomic::AtomicBool;

use sqlx::Connection;

use super::unsaved::Counted;
use crate::store::StoreOptions;

const SECOND: Duration = Duration::from_secs(1);

fn job(body: &str) -> OutboundRecord {
    OutboundRecord {
        ext: "2001".into(),
        goip_id: "g".into(),
        xmpp_from: "a@b/c".into(),
        xmpp_id: None,
        destination: "+37255500001".into(),
        body: body.into(),
        kind: OutboundKind::Sms,
    }
}

fn outbound(record: OutboundRecord) -> WriteOp {
    WriteOp::Outbound {
        record,
        options: Default::default(),
    }
}

fn sms(recvid: i64, body: &str) -> WriteOp {
    WriteOp::Inbound {
        record: InboundRecord {
            recipients: Vec::new(),
            goip_id: "g".into(),
            recvid,
            at: Timestamp::now(),
            xmpp_jid: None,
            kind: InboundKind::Sms {
                sender: "+37255512345".into(),
                body: body.into(),
            },
        },
        body_hash: crate::util::body_hash_column(body),
        outbound: None,
    }
}

fn counter(value: i64) -> WriteOp {
    WriteOp::Counter {
        name: "writer_test".into(),
        value,
    }
}

fn config(capacity: usize) -> StoreOptions {
    StoreOptions {
        queue_capacity: capacity,
        max_batch: 16,
        state_refresh: Duration::ZERO,
        close_timeout: Duration::from_secs(30),
        write_wait: Duration::from_millis(200),
        db_timeout: Duration::from_millis(700),
        dedup_window: crate::store::DEDUP_WINDOW,
    }
}

/// A SQLite store in `dir`, migrated.
async fn sqlite(dir: &tempfile::TempDir) -> Batches {
    let (pool, _) = crate::store::sqlite::open(&dir.path().join("w.db"), SECOND * 5, false)
        .await
        .expect("open");
    let db = Db::Sqlite(pool);
    db.migrate().await.expect("migrate");
    Batches {
        db,
        dedup_window: crate::store::DEDUP_WINDOW,
    }
}

/// The real database, with two faults a server can have and a local file
/// cannot: an attempt that hangs before it reaches the database (a
/// connection that stopped answering), and one that hangs after the
/// database committed it (the reply to COMMIT lost on a hanging
/// connection). Looking a batch up by its marker is never affected.
#[derive(Clone)]
struct Faulty {
    db: Batches,
    hangs_before_commit: Arc<AtomicBool>,
    reply_lost: Arc<AtomicBool>,
}

impl Faulty {
    fn new(db: &Batches) -> Faulty {
        Faulty {
            db: db.clone(),
            hangs_before_commit: Arc::new(AtomicBool::new(false)),
            reply_lost: Arc::new(AtomicBool::new(false)),
        }
    }
}

impl Database for Faulty {
    async fn apply_batch(
        &self,
        batch_id: i64,
        now: Timestamp,
        ops: &[WriteOp],
    ) -> Result<Vec<Outcome>, BatchFailure> {
        if self.hangs_before_commit.load(Ordering::Acquire) {
            std::future::pending::<()>().await;
        }
        let applied = self.db.apply_batch(batch_id, now, ops).await;
        if self.reply_lost.load(Ordering::Acquire) {
            std::future::pending::<()>().await;
        }
        applied
    }

    async fn batch_outcomes(&self, batch_id: i64) -> Result<Option<Vec<Outcome>>, sqlx::Error> {
        self.db.batch_outcomes(batch_id).await
    }
}

impl WriterHandle {
    /// Queues a write without waiting for room or for its commit; false
    /// when the queue is full. For tests that need a queue in a given state.
    fn submit_nowait(&self, op: WriteOp) -> bool {
        let counted = Counted::new(&self.shared.unsaved, op.kind());
        let queued = self.tx.try_send(self.job(op, None)).is_ok();
        if queued {
            counted.handed_over();
        }
        queued
    }
}

/// A second connection to the store's file that can hold the write lock.
async fn blocker(dir: &tempfile::TempDir) -> sqlx::SqliteConnection {
    let path = dir.path().join("w.db");
    sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("second connection")
}

async fn lock_writes(conn: &mut sqlx::SqliteConnection) {
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut *conn)
        .await
        .expect("take the write lock");
}

async fn unlock_writes(conn: &mut sqlx::SqliteConnection) {
    sqlx::query("ROLLBACK")
        .execute(&mut *conn)
        .await
        .expect("release the write lock");
}

async fn with_spool(
    dir: &tempfile::TempDir,
    database: impl Database,
    config: StoreOptions,
) -> WriterHandle {
    let (_, ready) = watch::channel(true);
    with_spool_ready(dir, database, config, ready).await
}

/// [`with_spool`], with the database's readiness in the test's hands.
async fn with_spool_ready(
    dir: &tempfile::TempDir,
    database: impl Database,
    config: StoreOptions,
    ready: watch::Receiver<bool>,
) -> WriterHandle {
    let spool = Spool::open(&dir.path().join("spool.db"))
        .await
        .expect("spool");
    let backlog = spool.entries().await.expect("entries");
    let marking = spool.delivered_marks().await.expect("marks");
    WriterHandle::spawn(
        database,
        config,
        WriterStart {
            spool: Some(spool),
            backlog,
            marking,
            ready,
        },
    )
}

async fn inbox_count(database: &Batches) -> usize {
    let count: i64 = database
        .db
        .query("SELECT COUNT(*) FROM goippy_log WHERE dir = 'in' AND status = 'inbox'")
        .scalar_one()
        .await
        .expect("inbox");
    count as usize
}

/// The ids of the unfinished outbound jobs (`queued`, `sending`), oldest
/// first.
async fn outbox(database: &Batches) -> Vec<i64> {
    database
        .db
        .query("SELECT id FROM goippy_log WHERE dir = 'out' AND status IN ('queued', 'sending') ORDER BY id")
        .scalar_all()
        .await
        .expect("outbox")
}

async fn outbox_count(database: &Batches) -> usize {
    outbox(database).await.len()
}

/// The case the marker is for: the batch committed but the reply to
/// COMMIT was lost. The retry must answer from the marker, not store the
/// outbound job a second time.
#[tokio::test]
async fn a_batch_that_committed_unseen_is_not_written_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let database = sqlite(&dir).await;
    let faulty = Faulty::new(&database);
    let writer = WriterHandle::spawn(faulty.clone(), config(4), WriterStart::without_spool());
    faulty.reply_lost.store(true, Ordering::Release);
    let unset = {
        let reply_lost = Arc::clone(&faulty.reply_lost);
        tokio::spawn(async move {
            // The first attempt hangs after its commit until its timeout.
            tokio::time::sleep(Duration::from_millis(300)).await;
            reply_lost.store(false, Ordering::Release);
        })
    };
    let answer = tokio::time::timeout(SECOND * 10, writer.submit(outbound(job("once"))))
        .await
        .expect("answered");
    unset.await.expect("unset");
    let Ok(Written::Committed(Outcome::Enqueued { id })) = answer else {
        panic!("{answer:?}");
    };
    let outbox = outbox(&database).await;
    assert_eq!(outbox.len(), 1, "stored once");
    assert_eq!(outbox[0], id);
    writer.close(None).await.expect("closed");
}

/// A write the database does not take within `write_wait` is answered
/// from the spool, and reaches the database once the lock is gone —
/// exactly once, in the order written.
#[tokio::test]
async fn a_stalled_database_costs_a_moment_not_the_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let database = sqlite(&dir).await;
    let mut lock = blocker(&dir).await;
    let writer = with_spool(&dir, database.clone(), config(16)).await;
    let mut drained = writer.drained();
    lock_writes(&mut lock).await;

    let started = Instant::now();
    let first = writer.submit(sms(1, "one")).await;
    assert!(matches!(first, Ok(Written::Spooled)), "{first:?}");
    assert!(
        started.elapsed() < SECOND * 3,
        "took {:?}",
        started.elapsed()
    );
    let second = writer.submit(outbound(job("two"))).await;
    assert!(matches!(second, Ok(Written::Spooled)), "{second:?}");
    let third = writer.submit(sms(3, "three")).await;
    assert!(matches!(third, Ok(Written::Spooled)), "{third:?}");
    assert_eq!(writer.spooled(), 3);
    assert_eq!(
        inbox_count(&database).await,
        0,
        "nothing reached the database yet"
    );

    unlock_writes(&mut lock).await;
    tokio::time::timeout(SECOND * 20, async {
        while writer.spooled() > 0 {
            let _ = drained.changed().await;
        }
    })
    .await
    .expect("drained");
    assert_eq!(inbox_count(&database).await, 2, "each SMS once");
    assert_eq!(outbox_count(&database).await, 1);
    let spool = Spool::open(&dir.path().join("spool.db"))
        .await
        .expect("spool");
    assert!(spool.entries().await.expect("entries").is_empty());
    writer.close(None).await.expect("closed");
}

/// The spool outlives the process: what a stopping writer could not give
/// the database is written by the next one, once.
#[tokio::test]
async fn what_the_spool_keeps_survives_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let database = sqlite(&dir).await;
    let mut lock = blocker(&dir).await;
    lock_writes(&mut lock).await;
    let writer = with_spool(&dir, database.clone(), config(16)).await;
    assert!(matches!(
        writer.submit(sms(7, "kept")).await,
        Ok(Written::Spooled)
    ));
    assert!(matches!(
        writer.submit(outbound(job("kept too"))).await,
        Ok(Written::Spooled)
    ));
    // Stopping while the database still refuses: nothing is lost, nothing
    // counts as unsaved.
    writer
        .close(Some(Instant::now() + SECOND * 2))
        .await
        .expect("nothing unsaved: the spool keeps it");
    unlock_writes(&mut lock).await;

    let writer = with_spool(&dir, database.clone(), config(16)).await;
    assert_eq!(writer.spooled(), 2);
    writer.submit(WriteOp::Barrier).await.expect("flushed");
    assert_eq!(writer.spooled(), 0);
    assert_eq!(inbox_count(&database).await, 1);
    assert_eq!(outbox_count(&database).await, 1);
    writer.close(None).await.expect("closed");
}

/// `queued → sending` must be refused for a job that is no longer queued;
/// the spool cannot say that, so it waits for the database.
#[tokio::test]
async fn sending_waits_for_the_database_itself() {
    let dir = tempfile::tempdir().expect("tempdir");
    let database = sqlite(&dir).await;
    let mut lock = blocker(&dir).await;
    let writer = with_spool(&dir, database.clone(), config(16)).await;
    let Ok(Written::Committed(Outcome::Enqueued { id })) =
        writer.submit(outbound(job("to send"))).await
    else {
        panic!("not enqueued");
    };
    lock_writes(&mut lock).await;
    let sending = writer.submit(WriteOp::Transition {
        id: LogId(id),
        change: Transition::Sending { sendid: 9 },
        notice: None,
    });
    tokio::pin!(sending);
    assert!(
        tokio::time::timeout(SECOND * 2, &mut sending)
            .await
            .is_err(),
        "answered while the database was locked"
    );
    unlock_writes(&mut lock).await;
    let answer = tokio::time::timeout(SECOND * 20, sending)
        .await
        .expect("answered once the lock was gone");
    assert!(
        matches!(answer, Ok(Written::Committed(Outcome::Done))),
        "{answer:?}"
    );
    writer.close(None).await.expect("closed");
}

/// A batch whose attempt committed but never answered is spooled (and its
/// callers answered) at its deadline; when the attempt then fails, its
/// marker shows it committed: the spool forgets it, nothing is written
/// twice.
#[tokio::test]
async fn a_spooled_batch_that_had_committed_is_not_written_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let database = sqlite(&dir).await;
    let faulty = Faulty::new(&database);
    let writer = with_spool(&dir, faulty.clone(), config(16)).await;
    faulty.reply_lost.store(true, Ordering::Release);
    let answer = writer.submit(outbound(job("once only"))).await;
    assert!(matches!(answer, Ok(Written::Spooled)), "{answer:?}");
    faulty.reply_lost.store(false, Ordering::Release);
    let mut drained = writer.drained();
    tokio::time::timeout(SECOND * 20, async {
        while writer.spooled() > 0 {
            let _ = drained.changed().await;
        }
    })
    .await
    .expect("settled");
    assert_eq!(outbox_count(&database).await, 1);
    writer.close(None).await.expect("closed");
}

/// Stopping while an attempt hangs on a server that stopped answering,
/// with everything in the spool: the stop does not wait for the attempt
/// (nor for the give-up instant), and the next start writes the batch once.
#[tokio::test]
async fn a_stop_with_everything_spooled_does_not_wait_for_a_hanging_attempt() {
    let dir = tempfile::tempdir().expect("tempdir");
    let database = sqlite(&dir).await;
    let faulty = Faulty::new(&database);
    let mut cfg = config(16);
    cfg.db_timeout = SECOND * 60;
    let writer = with_spool(&dir, faulty.clone(), cfg).await;
    faulty.hangs_before_commit.store(true, Ordering::Release);
    let answer = writer.submit(outbound(job("kept"))).await;
    assert!(matches!(answer, Ok(Written::Spooled)), "{answer:?}");
    let stop = Instant::now();
    writer
        .close(Some(Instant::now() + SECOND * 20))
        .await
        .expect("nothing unsaved: the spool keeps it");
    assert!(
        stop.elapsed() < SECOND * 5,
        "the stop waited {:?} for an attempt the spool did not need",
        stop.elapsed()
    );
    faulty.hangs_before_commit.store(false, Ordering::Release);
    let writer = with_spool(&dir, faulty, config(16)).await;
    writer.submit(WriteOp::Barrier).await.expect("flushed");
    assert_eq!(writer.spooled(), 0);
    assert_eq!(outbox_count(&database).await, 1);
    writer.close(None).await.expect("closed");
}

/// A batch the spool took before any attempt (the database was not
/// ready), whose first attempt commits but never answers and is cut off by
/// the stop: the spool must remember that it may have committed, or the
/// next start writes it a second time.
#[tokio::test]
async fn a_spooled_batch_cut_off_at_the_stop_is_not_written_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let database = sqlite(&dir).await;
    let faulty = Faulty::new(&database);
    let mut cfg = config(16);
    cfg.db_timeout = SECOND * 60;
    let (ready_tx, ready) = watch::channel(false);
    let writer = with_spool_ready(&dir, faulty.clone(), cfg, ready).await;
    let answer = writer.submit(outbound(job("once only"))).await;
    assert!(matches!(answer, Ok(Written::Spooled)), "{answer:?}");
    faulty.reply_lost.store(true, Ordering::Release);
    ready_tx.send_replace(true);
    // The attempt commits (and its answer is lost).
    tokio::time::timeout(SECOND * 10, async {
        while outbox_count(&database).await == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the attempt committed");
    writer
        .close(Some(Instant::now() + SECOND * 3))
        .await
        .expect("nothing unsaved: the spool keeps it");
    faulty.reply_lost.store(false, Ordering::Release);
    let writer = with_spool(&dir, faulty, config(16)).await;
    writer.submit(WriteOp::Barrier).await.expect("flushed");
    assert_eq!(writer.spooled(), 0);
    assert_eq!(outbox_count(&database).await, 1, "written once");
    writer.close(None).await.expect("closed");
}

/// A delivered mark kept by the spool hides its inbox row at once.
#[tokio::test]
async fn a_delivered_mark_counts_from_the_moment_it_is_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let database = sqlite(&dir).await;
    let mut lock = blocker(&dir).await;
    let writer = with_spool(&dir, database.clone(), config(16)).await;
    let Ok(Written::Committed(Outcome::Stored { id, .. })) = writer.submit(sms(5, "hi")).await
    else {
        panic!("not stored");
    };
    lock_writes(&mut lock).await;
    let marked = writer.submit(WriteOp::Delivered(LogId(id))).await;
    assert!(matches!(marked, Ok(Written::Spooled)), "{marked:?}");
    assert!(writer.is_marking(id));
    writer
        .close(Some(Instant::now() + SECOND * 2))
        .await
        .expect("kept");
    // Also for the next run, before the spool has drained.
    let writer = with_spool(&dir, database.clone(), config(16)).await;
    assert!(writer.is_marking(id));
    unlock_writes(&mut lock).await;
    writer.submit(WriteOp::Barrier).await.expect("flushed");
    assert!(!writer.is_marking(id));
    writer.close(None).await.expect("closed");
}

/// `Duration::MAX` as the close timeout means "no limit", not a panic
/// computing the instant it ends.
#[tokio::test]
async fn a_close_timeout_without_limit_is_accepted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let database = sqlite(&dir).await;
    let mut cfg = config(4);
    cfg.close_timeout = Duration::MAX;
    let writer = WriterHandle::spawn(database.clone(), cfg, WriterStart::without_spool());
    writer.submit(counter(1)).await.expect("saved");
    assert!(writer.submit_nowait(counter(2)), "queued");
    writer.close(None).await.expect("closed, all saved");
    let writer = WriterHandle::spawn(database, cfg, WriterStart::without_spool());
    assert!(writer.submit_nowait(counter(3)), "queued");
    let deadline = Instant::now() + Duration::from_secs(30);
    writer
        .close(Some(deadline))
        .await
        .expect("closed by the deadline, all saved");
}

/// Without a spool: an outbound job committed just before the give-up
/// instant, whose attempt is then cut off before it returns (the reply to
/// COMMIT lost on a hanging connection): its marker shows it was saved, so
/// its caller is told so, not that the database is unavailable. And as the
/// database answers, the writes after it are still tried.
#[tokio::test]
async fn a_batch_committed_as_it_was_cut_off_is_reported_saved() {
    let dir = tempfile::tempdir().expect("tempdir");
    let database = sqlite(&dir).await;
    let mut cfg = config(4);
    cfg.db_timeout = Duration::from_secs(30);
    let faulty = Faulty::new(&database);
    let writer = WriterHandle::spawn(faulty.clone(), cfg, WriterStart::without_spool());
    faulty.reply_lost.store(true, Ordering::Release);
    writer.give_up_at(Instant::now() + Duration::from_millis(300));
    let outcome = tokio::time::timeout(SECOND * 5, writer.submit(outbound(job("committed"))))
        .await
        .expect("answered by the deadline");
    let Ok(Written::Committed(Outcome::Enqueued { id })) = outcome else {
        panic!("a committed job reported as {outcome:?}");
    };
    let outbox = outbox(&database).await;
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0], id);
    faulty.reply_lost.store(false, Ordering::Release);
    let later = writer.submit(counter(1)).await;
    assert!(
        matches!(later, Ok(Written::Committed(Outcome::Done))),
        "{later:?}"
    );
    writer.close(None).await.expect("nothing unsaved");
}

/// Without a spool: a batch the database does not commit by the give-up
/// instant (its attempt hangs) is abandoned; but the database answers the
/// look at its marker, so the next write is tried, not abandoned untried.
#[tokio::test]
async fn a_batch_not_committed_by_the_deadline_does_not_abandon_the_next() {
    let dir = tempfile::tempdir().expect("tempdir");
    let database = sqlite(&dir).await;
    let mut cfg = config(4);
    cfg.db_timeout = Duration::from_secs(30);
    let faulty = Faulty::new(&database);
    let writer = WriterHandle::spawn(faulty.clone(), cfg, WriterStart::without_spool());
    faulty.hangs_before_commit.store(true, Ordering::Release);
    writer.give_up_at(Instant::now() + Duration::from_millis(300));
    let first = tokio::time::timeout(SECOND * 5, writer.submit(counter(1)))
        .await
        .expect("answered by the deadline");
    assert!(matches!(first, Err(StoreError::Abandoned)), "{first:?}");
    faulty.hangs_before_commit.store(false, Ordering::Release);
    let later = tokio::time::timeout(SECOND * 5, writer.submit(counter(2)))
        .await
        .expect("answered");
    assert!(
        matches!(later, Ok(Written::Committed(Outcome::Done))),
        "{later:?}"
    );
    let unsaved = match writer.close(None).await {
        Err(StoreError::Unflushed(unsaved)) => unsaved,
        other => panic!("the abandoned write is not reported: {other:?}"),
    };
    let mut expected = UnflushedWrites::default();
    *expected.count_of(Kind::Counter).expect("a kind of write") = 1;
    assert_eq!(unsaved, expected);
}

/// A caller that gives up while waiting for room in a full queue (the
/// engine's hook timeout during a database outage) never queued its write:
/// once the database has taken everything, closing reports nothing unsaved.
#[tokio::test]
async fn a_write_dropped_while_waiting_for_room_is_not_counted_unsaved() {
    let dir = tempfile::tempdir().expect("tempdir");
    let database = sqlite(&dir).await;
    let mut lock = blocker(&dir).await;
    lock_writes(&mut lock).await;
    let mut cfg = config(1);
    cfg.max_batch = 1;
    cfg.db_timeout = Duration::from_secs(30);
    let writer = WriterHandle::spawn(database, cfg, WriterStart::without_spool());
    assert!(writer.submit_nowait(counter(1)), "queued");
    // Once the writer has taken the first into its (waiting) batch, the
    // second fills the queue.
    let mut tries = 0;
    while !writer.submit_nowait(counter(2)) {
        tries += 1;
        assert!(tries < 500, "the writer never took the first write");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let waited = tokio::time::timeout(Duration::from_millis(200), writer.submit(counter(3))).await;
    assert!(waited.is_err(), "the queue had room: {waited:?}");
    unlock_writes(&mut lock).await;
    writer
        .close(None)
        .await
        .expect("everything queued was saved");
}

/// A page of delivered marks is one UPDATE when it changes every row, and
/// each mark still gets the outcome it would get alone: `Done` for a row
/// already delivered, `NoSuchInbound` for one that does not exist.
#[tokio::test]
async fn delivered_marks_side_by_side_keep_their_own_outcomes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let database = sqlite(&dir).await;
    let stored = database
        .apply_batch(
            1,
            Timestamp::now(),
            &[sms(1, "a"), sms(2, "b"), sms(3, "c")],
        )
        .await
        .expect("stored");
    let ids: Vec<i64> = stored
        .iter()
        .map(|o| match o {
            Outcome::Stored { id, .. } => *id,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(inbox_count(&database).await, 3);

    let marks = |ids: &[i64]| -> Vec<WriteOp> {
        ids.iter()
            .map(|id| WriteOp::Delivered(LogId(*id)))
            .collect()
    };
    let outcomes = database
        .apply_batch(2, Timestamp::now(), &marks(&ids[..2]))
        .await
        .expect("marked");
    assert_eq!(outcomes, vec![Outcome::Done, Outcome::Done]);
    assert_eq!(inbox_count(&database).await, 1);

    // One already delivered, one new, one that never existed, and a write
    // of another kind after them.
    let mut ops = marks(&[ids[0], ids[2], 999_999]);
    ops.push(counter(7));
    let outcomes = database
        .apply_batch(3, Timestamp::now(), &ops)
        .await
        .expect("marked");
    assert_eq!(
        outcomes,
        vec![
            Outcome::Done,
            Outcome::Done,
            Outcome::NoSuchInbound { id: 999_999 },
            Outcome::Done,
        ]
    );
    assert_eq!(inbox_count(&database).await, 0);
}

/// A writer whose attempts wait for the lock (they do not time out), so
/// that an attempt outlasts the spool deadline: the spool answers its
/// callers while the attempt still runs.
async fn with_slow_attempts(dir: &tempfile::TempDir, database: &Batches) -> WriterHandle {
    let mut cfg = config(16);
    cfg.db_timeout = SECOND * 30;
    with_spool(dir, database.clone(), cfg).await
}

/// A batch the spool kept while its attempt ran, which the database then
/// committed, is logged and unmarked as any other: its delivered mark is
/// no longer pending once it is in the database.
#[tokio::test]
async fn a_batch_kept_during_its_attempt_and_then_committed_is_settled() {
    let dir = tempfile::tempdir().expect("tempdir");
    let database = sqlite(&dir).await;
    let mut lock = blocker(&dir).await;
    let writer = with_slow_attempts(&dir, &database).await;
    let Ok(Written::Committed(Outcome::Stored { id, .. })) = writer.submit(sms(6, "hi")).await
    else {
        panic!("not stored");
    };
    lock_writes(&mut lock).await;
    let marked = writer.submit(WriteOp::Delivered(LogId(id))).await;
    assert!(matches!(marked, Ok(Written::Spooled)), "{marked:?}");
    unlock_writes(&mut lock).await;
    let flushed = tokio::time::timeout(SECOND * 20, writer.submit(WriteOp::Barrier)).await;
    assert!(matches!(flushed, Ok(Ok(_))), "{flushed:?}");
    assert_eq!(writer.spooled(), 0);
    assert!(
        !writer.is_marking(id),
        "the committed mark is still pending"
    );
    writer.close(None).await.expect("closed");
}

/// A write the database refuses for good in an attempt that outlasted the
/// spool deadline (the spool had answered its caller meanwhile) goes to the
/// spool's dead_writes, and the writer takes the next write.
#[tokio::test]
async fn a_write_refused_after_the_spool_answered_is_buried() {
    let dir = tempfile::tempdir().expect("tempdir");
    let database = sqlite(&dir).await;
    let mut lock = blocker(&dir).await;
    // A real refusal for good: SQLite aborts this one counter (a
    // constraint error, not "not now").
    sqlx::query(
        "CREATE TRIGGER refuse_poison BEFORE INSERT ON goippy_counters \
         WHEN NEW.name = 'poison' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
    )
    .execute(&mut lock)
    .await
    .expect("trigger");
    let writer = with_slow_attempts(&dir, &database).await;
    lock_writes(&mut lock).await;
    let poison = WriteOp::Counter {
        name: "poison".into(),
        value: 1,
    };
    let kept = writer.submit(poison).await;
    assert!(matches!(kept, Ok(Written::Spooled)), "{kept:?}");
    unlock_writes(&mut lock).await;
    let next = tokio::time::timeout(SECOND * 20, writer.submit(counter(2))).await;
    assert!(matches!(next, Ok(Ok(_))), "{next:?}");
    assert!(writer.is_running());
    let flushed = tokio::time::timeout(SECOND * 20, writer.submit(WriteOp::Barrier)).await;
    assert!(matches!(flushed, Ok(Ok(_))), "{flushed:?}");
    assert_eq!(writer.spooled(), 0);
    let spool = Spool::open(&dir.path().join("spool.db"))
        .await
        .expect("spool");
    assert_eq!(spool.dead_writes().await.expect("dead writes"), 1);
    writer.close(None).await.expect("closed");
}
