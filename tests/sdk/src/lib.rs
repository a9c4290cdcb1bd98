//! End-to-end tests that drive `bulkhead serve` with the official Rust AWS SDK.
//!
//! The tests live in `tests/e2e` and start the binary from `BULKHEAD_BIN` or
//! `<workspace>/target/debug/bulkhead`, so build it first: `cargo build -p bulkhead`.
