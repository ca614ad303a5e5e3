//! The XMPP external component (XEP-0114) side of goippy (see the XMPP issue).
