//! MPP Digital: the open platform of Indonesia's public service malls (Mal Pelayanan Publik).
//!
//! See ARCHITECTURE.md for the map. In short: `domain` holds the rules with no I/O; `storage` is
//! the one query layer over SQLite and PostgreSQL; `catalog` is the in-memory snapshot served to
//! readers; `http` renders pages and the JSON API; `imports` and `demo` feed the database.

pub mod admin;
pub mod booking_desk;
pub mod catalog;
pub mod config;
pub mod credentials;
pub mod delivery;
pub mod demo;
pub mod documents;
pub mod domain;
pub mod http;
pub mod imports;
pub mod letter;
pub mod privacy;
pub mod receipt;
pub mod server;
pub mod simulator;
pub mod storage;
pub mod time_limits;
