//! End-to-end tests that drive `bulkhead serve` with the official Rust AWS SDK.
