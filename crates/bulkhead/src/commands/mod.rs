pub mod doctor;
pub mod function;
pub mod invoke;
pub mod runtime;
pub mod serve;
