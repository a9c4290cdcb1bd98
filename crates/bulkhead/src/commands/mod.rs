pub mod function;
pub mod serve;
