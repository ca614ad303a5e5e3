//! goippy's configuration file.
