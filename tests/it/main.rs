//! Integration tests: the real server over HTTP, the same suite on SQLite and PostgreSQL.
//! One test binary keeps link time down.

mod accounts;
mod api;
mod applications;
mod applying;
mod authz;
mod browser;
mod cli;
mod delivery;
mod documents;
mod imports;
mod pages;
mod queue;
mod queue_api;
mod staff;
mod support;
