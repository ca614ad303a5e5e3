//! The GoIP "SMS server" wire format: parsing and formatting only, no I/O.
