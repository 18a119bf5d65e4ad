//! Domain rules of MPP Digital: pure types and functions with no I/O.
//!
//! Nothing in this module imports `sqlx`, `axum`, `tokio` or touches the file system or the
//! network; everything here is tested on its own in milliseconds.

pub mod application;
pub mod audit;
pub mod booking;
pub mod calendar;
pub mod catalog;
pub mod form;
pub mod identifier;
pub mod letter;
pub mod nik;
pub mod opening;
pub mod queue;
pub mod region;
pub mod registry;
pub mod roles;
pub mod search_text;
pub mod slug;
