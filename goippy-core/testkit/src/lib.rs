//! Test support shared by goippy-core's integration tests and `prosody-test`:
//! real servers (Prosody, MariaDB) started in private temp dirs on free ports,
//! and guards that stop exactly the processes a test started, by PID, even
//! when the test fails.
//!
//! It is synchronous and std-only on purpose (see Cargo.toml).

pub mod certs;
pub mod mariadb;
pub mod ports;
pub mod process;
pub mod prosody;
