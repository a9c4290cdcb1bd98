//! The isolation suite: hostile code in real environments, one named test per attack.
