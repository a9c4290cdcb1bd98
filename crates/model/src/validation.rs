use std::fmt;

/// A request member that breaks one of the API's constraints.
///
/// Displays exactly as AWS's `ValidationException` message so the API layer can send it as is:
/// `1 validation error detected: Value 'x' at 'memorySize' failed to satisfy constraint: ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// The member in AWS's lower-camel wire spelling, e.g. `functionName`.
    pub field: &'static str,
    /// The offending value, truncated so an error never echoes a huge input back.
    pub value: String,
    /// The constraint in AWS's words, e.g. `Member must have length less than or equal to 64`.
    pub constraint: String,
}

impl ValidationError {
    pub fn new(
        field: &'static str,
        value: impl fmt::Display,
        constraint: impl Into<String>,
    ) -> Self {
        let mut value = value.to_string();
        if value.len() > 256 {
            let mut cut = 256;
            while !value.is_char_boundary(cut) {
                cut -= 1;
            }
            value.truncate(cut);
            value.push_str("...");
        }
        Self {
            field,
            value,
            constraint: constraint.into(),
        }
    }

    pub fn pattern(field: &'static str, value: impl fmt::Display, pattern: &str) -> Self {
        Self::new(
            field,
            value,
            format!("Member must satisfy regular expression pattern: {pattern}"),
        )
    }

    pub fn max_len(field: &'static str, value: impl fmt::Display, max: usize) -> Self {
        Self::new(
            field,
            value,
            format!("Member must have length less than or equal to {max}"),
        )
    }

    pub fn min_len(field: &'static str, value: impl fmt::Display, min: usize) -> Self {
        Self::new(
            field,
            value,
            format!("Member must have length greater than or equal to {min}"),
        )
    }

    pub fn min_value(field: &'static str, value: i64, min: i64) -> Self {
        Self::new(
            field,
            value,
            format!("Member must have value greater than or equal to {min}"),
        )
    }

    pub fn max_value(field: &'static str, value: i64, max: i64) -> Self {
        Self::new(
            field,
            value,
            format!("Member must have value less than or equal to {max}"),
        )
    }

    /// Checks an integer member against an inclusive range.
    pub fn check_range(field: &'static str, value: i64, min: i64, max: i64) -> Result<i64, Self> {
        if value < min {
            Err(Self::min_value(field, value, min))
        } else if value > max {
            Err(Self::max_value(field, value, max))
        } else {
            Ok(value)
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "1 validation error detected: Value '{}' at '{}' failed to satisfy constraint: {}",
            self.value, self.field, self.constraint
        )
    }
}

impl std::error::Error for ValidationError {}

/// `[a-zA-Z0-9-_]`, the alphabet of function, alias and layer names.
pub(crate) fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}
