//! Validated names and identifiers shared by every part of Bulkhead.
//!
//! Each type here can only be built through a constructor that checks it against the rules AWS
//! Lambda applies (length, alphabet), so code that holds one never re-validates and never forwards
//! a raw, hostile string by mistake. The crate does no I/O and has no dependencies beyond serde and
//! thiserror, so every other crate — including the in-sandbox agent later — can use it.

mod function;
mod runtime;
mod tenant;
mod validation;

pub use function::{FunctionName, FunctionRef, Qualifier, TenancyMode};
pub use runtime::Runtime;
pub use tenant::TenantId;
pub use validation::ValidationError;
