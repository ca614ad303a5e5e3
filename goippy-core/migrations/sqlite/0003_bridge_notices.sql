-- What the XMPP bridge needs to keep its promises across restarts. Only
-- columns and a table are added.

-- Outbound: 1 when the sender asked for an XEP-0184 receipt, so a delivery
-- report can answer it after a restart.
ALTER TABLE goippy_log ADD COLUMN receipt_req INTEGER;
-- Outbound: the JID the user wrote to (+372…@sms.example.org, or 00372…):
-- receipts and errors must come from exactly that address.
ALTER TABLE goippy_log ADD COLUMN xmpp_to TEXT;
-- Inbound rows of kind 'notice': something goippy must tell a user (an
-- outbound message's outcome, a USSD answer, a call). What to tell is named
-- here; xmpp_jid is who gets it, msisdn the contact it comes from, xmpp_id the
-- user's message it answers, body/detail/error_code the text and the code,
-- ref_id the outbound row. It waits in the inbox like an SMS, so it survives
-- an XMPP outage and a restart.
ALTER TABLE goippy_log ADD COLUMN notice TEXT;

-- Small named numbers goippy must remember across restarts (the highest
-- GoIP sendid, which must keep increasing for USSD).
CREATE TABLE goippy_counters (
    name         TEXT PRIMARY KEY,
    value        INTEGER NOT NULL,
    updated_unix INTEGER NOT NULL
);
