//! A throwaway Prosody server (see the XMPP issue).
