//! The commented sample configuration `goippy --sample` writes: every key
//! goippy reads, with its default and why one would change it (a test in
//! `config.rs` checks that no key is missing).

/// The commented sample configuration `goippy --sample` writes. It uses
/// SQLite, the embedded default, so it works without a database server.
pub const SAMPLE: &str = r##"# goippy configuration
#
# One `KEY = value` per line; strings in double quotes, numbers bare.
# Check it with:  goippy --check /etc/goippy.conf
# Keys marked (required) have no default; every other line shows its default.

# --- XMPP -----------------------------------------------------------------

# The users' domain: the Prosody VirtualHost whose users may send SMS (required).
# Only users whose localpart is a provisioned, enabled extension may send.
XMPP_DOMAIN            = "example.org"

# The domain of the phone-number contacts: SMS from +37255512345 arrive from
# +37255512345@XMPP_DATA_DOMAIN (required). It must be the component's domain:
# Prosody refuses stanzas a component sends from any other domain.
XMPP_DATA_DOMAIN       = "sms.example.org"

# The component, exactly as in Prosody's `Component "sms.example.org"` line,
# and its `component_secret` (required). Defaults to XMPP_DATA_DOMAIN.
# "change-me" is a placeholder (goippy --check warns about it): choose your
# own, e.g. with `openssl rand -hex 16`, and set the same in Prosody.
XMPP_COMPONENT_JID     = "sms.example.org"
XMPP_COMPONENT_SECRET  = "change-me"

# Where Prosody listens for components (its `component_ports`).
XMPP_HOST              = "127.0.0.1"
XMPP_PORT              = 5347

# Who receives SMS that arrive on a GoIP channel no extension is mapped to.
# Unset: such SMS are stored and wait until a mapping exists.
# XMPP_FALLBACK_DEST   = "0000@example.org"

# Answer "add contact" prompts (XEP-0100) with +N@XMPP_DOMAIN, the form
# Prosody's mod_sms_alias routes. Set to false without mod_sms_alias.
XMPP_USE_ALIAS         = true

# When a sender gets a delivery receipt (XEP-0184): "delivered" when the
# carrier confirms delivery to the handset, or "sent" when the GoIP sent it.
XMPP_RECEIPTS          = "delivered"

# Also tell the user about calls (RECORD/HANGUP), not only log them.
XMPP_CALL_NOTICES      = false

# Seconds between keepalive pings to Prosody.
XMPP_PING_INTERVAL     = 30

# Bare JIDs (commas or spaces between them) that may run the admin ad-hoc
# commands (XEP-0050) on XMPP_COMPONENT_JID: list the gateways, enable or
# disable a line. They also get every line's alerts (see ALERTS below), from
# the gateway's JID. Unset: nobody.
# ADMIN_JIDS           = "admin@example.org"

# --- GoIP -----------------------------------------------------------------

# Address and UDP port the GoIPs send to: on the GoIP, Configurations → SMS →
# SMS Server: Enable, Server IP = this host, Port = GOIP_PORT, and per channel
# the SMS Client ID and Password you register with `goippy --add`.
GOIP_BIND              = "0.0.0.0"
GOIP_PORT              = 44444

# "session" (the vendor protocol: MSG/PASSWORD/SEND/DONE, with results and
# delivery reports) or "oneshot" (the legacy single SMS datagram, for firmware
# that may answer it; no results, delivery reports cannot be matched).
GOIP_SMS_MODE          = "session"

# Seconds without a keepalive after which a channel is offline (GoIPs send one every 30 s).
GOIP_OFFLINE_AFTER     = 90

# Seconds a received message is remembered, so that retransmissions are acked but not delivered twice.
GOIP_DEDUP_WINDOW      = 600

# Seconds an outbound job waits for an offline channel before it fails.
GOIP_OFFLINE_WAIT      = 300

# Seconds an SMS may take, from its SEND to its OK or ERROR, before it is
# reported as "unknown outcome".
# It is never re-sent automatically: a second SEND can mean a second SMS.
GOIP_SMS_TIMEOUT       = 180

# Seconds to wait for a USSD answer before asking once more.
GOIP_USSD_TIMEOUT      = 30

# Country calling code for numbers written nationally (0555… → +372555…).
# SMS_COUNTRY_CODE     = "372"

# Seconds an inbound SMS of exactly one segment's length (153 GSM-7
# characters, 67 in UCS-2, or one less before a € or an emoji) waits for its
# continuation. Some GoIP firmware hands each part of a long SMS over as an
# SMS of its own; such parts are joined into one message. Everything else is
# delivered at once. 0 delivers every part as it comes.
SMS_JOIN_WAIT          = 10

# --- Alerts ---------------------------------------------------------------

# A line's users get a chat message from the line's own number when the line
# goes offline (no keepalive for GOIP_OFFLINE_AFTER) and comes back, when GSM
# registration is lost and back, when the signal stays weak, and when the
# balance check finds the balance low. Each change is told once. false: no
# alerts (the console's "status" still shows the states).
ALERTS                 = true

# Seconds a GSM loss or a weak signal (and the recovery from it) must last
# before it is told, so that a flapping line does not flood its users.
ALERT_HOLD             = 300

# A weak signal: below this CSQ (1-31; 10 is about -93 dBm, 2 bars) for
# ALERT_HOLD seconds. Off unless set.
# ALERT_SIGNAL_BELOW   = 8

# The balance check, off unless BALANCE_USSD is set: every BALANCE_EVERY
# seconds each line sends this USSD code, BALANCE_REGEX finds the amount in
# the answer (its one capture group; "3,20" and "1 234.50" read as numbers),
# and a balance below BALANCE_BELOW is told once, its recovery once.
# BALANCE_USSD         = "*100#"
# BALANCE_REGEX        = "balance is ([0-9.,]+)"
# BALANCE_BELOW        = "5.00"
# BALANCE_EVERY        = 86400

# --- Database -------------------------------------------------------------

# "sqlite" (embedded, the default) or "mysql" (MySQL/MariaDB, for production).
DB_BACKEND             = "sqlite"
DB_FILE                = "/var/lib/goippy/goippy.db"

# For DB_BACKEND = "mysql":
# DB_HOST              = "localhost"
# DB_PORT              = 3306
# DB_BASE              = "goippy"
# DB_USER              = "goippy"
# DB_PASS              = "secret"
#
# TLS to the server: "off" (clear text), "preferred" (TLS when the server
# offers it, certificate not checked), "required" (TLS or no connection,
# certificate not checked), "verify-ca" (certificate signed by a trusted CA)
# or "verify-full" (signed by a trusted CA and issued for DB_HOST). Default:
# "off" for a server on this host (localhost, 127.0.0.1, ::1), "preferred"
# for another host; goippy warns at start-up when it talks to another host
# in clear text. Use "verify-full" across any network you do not control.
# DB_TLS               = "verify-full"
# The CA (PEM) that signed the server's certificate, trusted besides the
# system's (/etc/ssl/certs). Given alone, it means DB_TLS = "verify-full".
# DB_TLS_CA            = "/etc/mysql/ca.pem"

# Seconds any database statement, write or connection attempt may take before
# it counts as failed (a frozen or unreachable server is noticed this fast,
# and retried with a growing pause).
DB_TIMEOUT             = 10

# Seconds a write waits for the database before the spool keeps it: a GoIP
# then still gets its ack (never later than 1 s), a user's SMS is accepted
# (the user is told it waits), and both go into the database, in order and
# once, when it is back — also after a restart of goippy.
DB_WRITE_WAIT          = 1

# The spool: a small local SQLite file that keeps what the database does not
# take in time (and the gateways, so goippy can start while the database is
# down). It keeps 8 MiB of its own space in reserve for a full disk.
# Default: next to DB_FILE (goippy.spool.db); with MySQL, in /var/lib/goippy
# under the configuration file's name.
# SPOOL_FILE           = "/var/lib/goippy/goippy.spool.db"

# Days of SMS/USSD history to keep in goippy_log; 0 keeps it forever, and
# so does a configuration without this line (the one value here that is not
# the default). Undelivered messages are never deleted.
LOG_DAYS               = 3

# Log filter when neither RUST_LOG nor -v/-q is given: "info", "debug"
# (goippy's own debug lines; the libraries stay at info), or a tracing
# filter such as "info,sqlx=debug" (taken as written).
# LOG_LEVEL            = "info"

# Prometheus metrics (/metrics) and health checks (/health, /health/live,
# /health/ready) over HTTP: off unless set. A port alone listens on 127.0.0.1
# only; "0.0.0.0:9464" listens on every address, without authentication
# (goippy warns): let only your Prometheus server reach it.
# METRICS_LISTEN       = "127.0.0.1:9464"
"##;
