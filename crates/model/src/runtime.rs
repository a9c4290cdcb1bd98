use std::fmt;
use std::str::FromStr;

use crate::ValidationError;

/// The runtimes Bulkhead runs. Identifiers are AWS's, so templates and clients carry over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Runtime {
    ProvidedAl2023,
    ProvidedAl2,
    Python39,
    Python310,
    Python311,
    Python312,
    Python313,
    Nodejs18,
    Nodejs20,
    Nodejs22,
}

impl Runtime {
    pub const ALL: [Runtime; 10] = [
        Runtime::ProvidedAl2023,
        Runtime::ProvidedAl2,
        Runtime::Python39,
        Runtime::Python310,
        Runtime::Python311,
        Runtime::Python312,
        Runtime::Python313,
        Runtime::Nodejs18,
        Runtime::Nodejs20,
        Runtime::Nodejs22,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Runtime::ProvidedAl2023 => "provided.al2023",
            Runtime::ProvidedAl2 => "provided.al2",
            Runtime::Python39 => "python3.9",
            Runtime::Python310 => "python3.10",
            Runtime::Python311 => "python3.11",
            Runtime::Python312 => "python3.12",
            Runtime::Python313 => "python3.13",
            Runtime::Nodejs18 => "nodejs18.x",
            Runtime::Nodejs20 => "nodejs20.x",
            Runtime::Nodejs22 => "nodejs22.x",
        }
    }

    /// OS-only runtimes run the package's own `bootstrap`, so a handler is optional there.
    pub fn needs_handler(self) -> bool {
        !matches!(self, Runtime::ProvidedAl2023 | Runtime::ProvidedAl2)
    }

    /// The value Lambda puts in `AWS_EXECUTION_ENV` (absent for OS-only runtimes).
    pub fn execution_env(self) -> Option<String> {
        self.needs_handler()
            .then(|| format!("AWS_Lambda_{}", self.as_str()))
    }

    fn enum_list() -> String {
        let names: Vec<&str> = Self::ALL.iter().map(|r| r.as_str()).collect();
        format!("[{}]", names.join(", "))
    }
}

impl FromStr for Runtime {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                ValidationError::new(
                    "runtime",
                    s,
                    format!("Member must satisfy enum value set: {}", Self::enum_list()),
                )
            })
    }
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_identifier() {
        for r in Runtime::ALL {
            assert_eq!(r.as_str().parse::<Runtime>(), Ok(r));
        }
    }

    #[test]
    fn unknown_runtime_names_the_field_and_the_choices() {
        let e = "python2.7".parse::<Runtime>().unwrap_err();
        assert_eq!(e.field, "runtime");
        assert!(e.to_string().contains("provided.al2023"));
    }

    #[test]
    fn only_os_runtimes_go_without_a_handler() {
        assert!(!Runtime::ProvidedAl2023.needs_handler());
        assert!(Runtime::Python312.needs_handler());
        assert_eq!(
            Runtime::Nodejs22.execution_env().as_deref(),
            Some("AWS_Lambda_nodejs22.x")
        );
    }
}
