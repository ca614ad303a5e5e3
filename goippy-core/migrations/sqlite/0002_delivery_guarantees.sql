-- What lets the bridge lose nothing and lets an operator follow a message
-- end to end. Only columns and tables are added; nothing the original goippy
-- wrote is changed. New times are Unix seconds (see src/store/time.rs).

-- The rest of the keepalive.
ALTER TABLE goippy_state ADD COLUMN imei TEXT;
ALTER TABLE goippy_state ADD COLUMN imsi TEXT;
ALTER TABLE goippy_state ADD COLUMN iccid TEXT;
ALTER TABLE goippy_state ADD COLUMN cell_info TEXT;
ALTER TABLE goippy_state ADD COLUMN sms_login TEXT;
-- ip:port the last keepalive came from.
ALTER TABLE goippy_state ADD COLUMN source_addr TEXT;

-- RECORD / HANGUP / EXPIRY; NULL on rows the original goippy wrote.
ALTER TABLE goippy_calls ADD COLUMN event TEXT;
-- Seconds, from EXPIRY.
ALTER TABLE goippy_calls ADD COLUMN duration INTEGER;
ALTER TABLE goippy_calls ADD COLUMN recvid INTEGER;
CREATE INDEX goippy_calls_goip_id ON goippy_calls (goip_id, id);
CREATE INDEX goippy_calls_ext ON goippy_calls (ext, id);

-- goippy_log is also the inbox and the outbox. status: inbound 'inbox'
-- (not yet written to XMPP) then 'delivered'; outbound 'queued', 'sending',
-- then 'sent', 'failed' or 'unknown'. Rows of the original goippy keep their
-- own status values, which are none of these, so they are in neither box.
-- sms, ussd, ussn (network USSD) or dlr (delivery report).
ALTER TABLE goippy_log ADD COLUMN kind TEXT;
ALTER TABLE goippy_log ADD COLUMN goip_id TEXT;
ALTER TABLE goippy_log ADD COLUMN ext TEXT;
-- The id of the XMPP message an outbound job came from.
ALTER TABLE goippy_log ADD COLUMN xmpp_id TEXT;
-- Inbound: the datagram's recvid (USSD reply: the request's sendid).
ALTER TABLE goippy_log ADD COLUMN recvid INTEGER;
-- Outbound: the GoIP session (sendid), recipient (telid) and the GoIP's
-- send counter (sms_no), which delivery reports refer to.
ALTER TABLE goippy_log ADD COLUMN sendid INTEGER;
ALTER TABLE goippy_log ADD COLUMN telid INTEGER;
ALTER TABLE goippy_log ADD COLUMN sms_no INTEGER;
-- A delivery report: the outbound row it is about.
ALTER TABLE goippy_log ADD COLUMN ref_id INTEGER;
-- Failed / unknown: the GoIP's errorstatus and why.
ALTER TABLE goippy_log ADD COLUMN error_code INTEGER;
ALTER TABLE goippy_log ADD COLUMN detail TEXT;
-- Outbound: the latest delivery report's state (0 = delivered) and when.
ALTER TABLE goippy_log ADD COLUMN dlr_state INTEGER;
ALTER TABLE goippy_log ADD COLUMN dlr_unix INTEGER;
-- Outbound: when the GoIP reported it sent (delivery reports match within an hour).
ALTER TABLE goippy_log ADD COLUMN sent_unix INTEGER;
-- The last status change.
ALTER TABLE goippy_log ADD COLUMN updated_unix INTEGER;
CREATE INDEX goippy_log_status ON goippy_log (status, id);
CREATE INDEX goippy_log_created_at ON goippy_log (created_at);
CREATE INDEX goippy_log_sms_no ON goippy_log (goip_id, sms_no);

-- Every RECEIVE, USSN, USSD answer and DELIVER stored, by (channel, tag,
-- recvid, hash of the body), so that a retransmission is recognised also
-- after a restart. Kept for at least a day.
CREATE TABLE goippy_dedup (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    goip_id      TEXT NOT NULL,
    tag          TEXT NOT NULL,
    recvid       INTEGER NOT NULL,
    body_hash    INTEGER NOT NULL,
    log_id       INTEGER NOT NULL,
    created_unix INTEGER NOT NULL
);
CREATE UNIQUE INDEX goippy_dedup_key ON goippy_dedup (goip_id, tag, recvid, body_hash);
CREATE INDEX goippy_dedup_created ON goippy_dedup (created_unix);

-- One row per committed write batch, with what each write returned. When the
-- connection drops during COMMIT, goippy looks here to learn whether the
-- batch was saved instead of writing it a second time. Kept for a day.
CREATE TABLE goippy_write_batches (
    id           INTEGER PRIMARY KEY,
    created_unix INTEGER NOT NULL,
    outcomes     TEXT NOT NULL
);
CREATE INDEX goippy_write_batches_created ON goippy_write_batches (created_unix);
