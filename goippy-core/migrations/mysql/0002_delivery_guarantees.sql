-- What lets the bridge lose nothing and lets an operator follow a message
-- end to end. Columns are added and a few of the original's too-narrow ones
-- widened (a long carrier name or hangup cause must not make MySQL's strict
-- mode refuse a write); nothing the original goippy wrote is lost. New times
-- are Unix seconds in BIGINT (see src/store/time.rs).

ALTER TABLE goippy_state
    -- The rest of the keepalive.
    ADD COLUMN imei        VARCHAR(32) NULL,
    ADD COLUMN imsi        VARCHAR(32) NULL,
    ADD COLUMN iccid       VARCHAR(32) NULL,
    ADD COLUMN cell_info   VARCHAR(128) NULL,
    ADD COLUMN sms_login   VARCHAR(8) NULL,
    -- ip:port the last keepalive came from.
    ADD COLUMN source_addr VARCHAR(64) NULL;

ALTER TABLE goippy_calls
    MODIFY ts BIGINT NULL,
    MODIFY remote_num VARCHAR(64) NULL,
    MODIFY cause VARCHAR(255) NULL,
    MODIFY raw TEXT NULL,
    -- RECORD / HANGUP / EXPIRY; NULL on rows the original goippy wrote.
    ADD COLUMN event    VARCHAR(16) NULL,
    -- Seconds, from EXPIRY.
    ADD COLUMN duration INT NULL,
    ADD COLUMN recvid   BIGINT NULL;

-- goippy_log is also the inbox and the outbox. status: inbound 'inbox'
-- (not yet written to XMPP) then 'delivered'; outbound 'queued', 'sending',
-- then 'sent', 'failed' or 'unknown'. Rows of the original goippy keep their
-- own status values, which are none of these, so they are in neither box.
ALTER TABLE goippy_log
    MODIFY msisdn VARCHAR(64) NULL,
    MODIFY xmpp_jid VARCHAR(1023) NULL,
    -- sms, ussd, ussn (network USSD) or dlr (delivery report).
    ADD COLUMN kind         VARCHAR(16) NULL,
    ADD COLUMN goip_id      VARCHAR(64) NULL,
    ADD COLUMN ext          VARCHAR(32) NULL,
    -- The id of the XMPP message an outbound job came from.
    ADD COLUMN xmpp_id      TEXT NULL,
    -- Inbound: the datagram's recvid (USSD reply: the request's sendid).
    ADD COLUMN recvid       BIGINT NULL,
    -- Outbound: the GoIP session (sendid), recipient (telid) and the GoIP's
    -- send counter (sms_no), which delivery reports refer to.
    ADD COLUMN sendid       BIGINT NULL,
    ADD COLUMN telid        BIGINT NULL,
    ADD COLUMN sms_no       BIGINT NULL,
    -- A delivery report: the outbound row it is about.
    ADD COLUMN ref_id       BIGINT NULL,
    -- Failed / unknown: the GoIP's errorstatus and why.
    ADD COLUMN error_code   BIGINT NULL,
    ADD COLUMN detail       VARCHAR(255) NULL,
    -- Outbound: the latest delivery report's state (0 = delivered) and when.
    ADD COLUMN dlr_state    BIGINT NULL,
    ADD COLUMN dlr_unix     BIGINT NULL,
    -- Outbound: when the GoIP reported it sent (delivery reports match within an hour).
    ADD COLUMN sent_unix    BIGINT NULL,
    -- The last status change.
    ADD COLUMN updated_unix BIGINT NULL,
    ADD INDEX goippy_log_status (status, id),
    ADD INDEX goippy_log_created_at (created_at),
    ADD INDEX goippy_log_sms_no (goip_id, sms_no);

-- Every RECEIVE, USSN, USSD answer and DELIVER stored, by (channel, tag,
-- recvid, hash of the body), so that a retransmission is recognised also
-- after a restart. Kept for at least a day.
CREATE TABLE goippy_dedup (
    id           BIGINT AUTO_INCREMENT PRIMARY KEY,
    goip_id      VARCHAR(64) NOT NULL,
    tag          VARCHAR(16) NOT NULL,
    recvid       BIGINT NOT NULL,
    body_hash    BIGINT NOT NULL,
    log_id       BIGINT NOT NULL,
    created_unix BIGINT NOT NULL,
    UNIQUE KEY goippy_dedup_key (goip_id, tag, recvid, body_hash),
    KEY goippy_dedup_created (created_unix)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- One row per committed write batch, with what each write returned. When the
-- connection drops during COMMIT, goippy looks here to learn whether the
-- batch was saved instead of writing it a second time. Kept for a day.
CREATE TABLE goippy_write_batches (
    id           BIGINT PRIMARY KEY,
    created_unix BIGINT NOT NULL,
    outcomes     MEDIUMTEXT NOT NULL,
    KEY goippy_write_batches_created (created_unix)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
