//! End-to-end tests: the official Rust AWS SDK for Lambda against a real `bulkhead serve`.
//!
//! Each test starts its own server on a free loopback port with its own data dir, so tests run
//! in parallel. The binary comes from `BULKHEAD_BIN` or `<workspace>/target/debug/bulkhead`.

#[macro_use]
mod harness;
mod http;

mod concurrency;
mod errors;
mod functions;
mod persistence;
mod signing;
mod versions;
