pub mod doctor;
pub mod function;
pub mod serve;
