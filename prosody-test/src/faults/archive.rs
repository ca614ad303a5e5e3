//! Reading a user's archive (XEP-0313, MAM) whole, as clients sync it after
//! a reconnect.

use std::time::Duration;

use tokio::time::Instant;
use tokio_xmpp::minidom::Element;

use crate::faults::ledger::Ledger;
use crate::faults::session::{Session, classify, record};
use crate::faults::traffic::SENDER;
use crate::stanzas::{body, is_error};
use crate::{NS_CLIENT, xml_of};

/// How long one page of the archive may take.
const ARCHIVE_WAIT: Duration = Duration::from_secs(30);
const NS_MAM: &str = "urn:xmpp:mam:2";
const NS_RSM: &str = "http://jabber.org/protocol/rsm";
const NS_FORWARD: &str = "urn:xmpp:forward:0";

/// Reads A's whole archive (MAM, in pages) and writes down each SMS from
/// [`SENDER`] in it; other stanzas that arrive meanwhile are recorded as
/// usual.
pub async fn read_archive(session: &mut Session, ledger: &Ledger) -> crate::Result<()> {
    let sender = session.account.alias(SENDER);
    let mut after: Option<String> = None;
    for page in 1.. {
        let qid = format!("faults-archive-{page}");
        let after_el = after
            .as_deref()
            .map(|a| format!("<after>{a}</after>"))
            .unwrap_or_default();
        let query = format!(
            "<iq type='set' id='{qid}'><query xmlns='{NS_MAM}' queryid='{qid}'>\
             <set xmlns='{NS_RSM}'><max>100</max>{after_el}</set></query></iq>"
        );
        session
            .client
            .as_mut()
            .ok_or("disconnected")?
            .send_xml(&query)
            .await?;
        let deadline = Instant::now() + ARCHIVE_WAIT;
        let end = loop {
            if Instant::now() > deadline {
                return Err(
                    format!("no end of archive page {page} within {ARCHIVE_WAIT:?}").into(),
                );
            }
            if session.client.is_none() {
                return Err("disconnected while reading the archive".into());
            }
            let Some(el) = session.poll().await else {
                continue;
            };
            if el.name() == "iq" && el.attr("id") == Some(qid.as_str()) {
                break el;
            }
            match archived_message(&el, &qid) {
                Some(message) => {
                    let from = message.attr("from").unwrap_or_default();
                    if from.split('/').next() == Some(sender.as_str())
                        && !is_error(message)
                        && let Some(text) = body(message)
                    {
                        ledger.inbound_archived(&text);
                    }
                }
                None => {
                    let seen = classify(&el, &session.account);
                    record(ledger, "A", seen);
                }
            }
        };
        if end.attr("type") != Some("result") {
            return Err(format!("the archive query failed: {}", xml_of(&end)).into());
        }
        let fin = end.get_child("fin", NS_MAM);
        let complete = fin.and_then(|f| f.attr("complete")) == Some("true");
        let last = fin
            .and_then(|f| f.get_child("set", NS_RSM))
            .and_then(|s| s.get_child("last", NS_RSM))
            .map(Element::text);
        match last {
            Some(last) if !complete => after = Some(last),
            _ => return Ok(()),
        }
    }
    Ok(())
}

/// The archived message a MAM result for query `qid` carries.
fn archived_message<'a>(el: &'a Element, qid: &str) -> Option<&'a Element> {
    let result = el.get_child("result", NS_MAM)?;
    if result.attr("queryid") != Some(qid) {
        return None;
    }
    result
        .get_child("forwarded", NS_FORWARD)?
        .get_child("message", NS_CLIENT)
}
