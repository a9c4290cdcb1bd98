use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ValidationError;
use crate::validation::is_name_char;

/// A function's own name: 1–64 characters of `[a-zA-Z0-9-_]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FunctionName(String);

impl FunctionName {
    pub const MAX_LEN: usize = 64;

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        if raw.is_empty() {
            return Err(ValidationError::min_len("functionName", raw, 1));
        }
        if raw.len() > Self::MAX_LEN {
            return Err(ValidationError::max_len("functionName", raw, Self::MAX_LEN));
        }
        if !raw.chars().all(is_name_char) {
            return Err(ValidationError::pattern(
                "functionName",
                raw,
                FunctionRef::PATTERN,
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FunctionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What follows a function name after `:` or in `?Qualifier=`: `$LATEST`, a version number or an
/// alias name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Qualifier {
    Latest,
    Version(u64),
    Alias(String),
}

impl Qualifier {
    pub const LATEST: &'static str = "$LATEST";
    pub const MAX_LEN: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        const PATTERN: &str = "(|[a-zA-Z0-9$_-]+)";
        if raw.is_empty() {
            return Err(ValidationError::min_len("qualifier", raw, 1));
        }
        if raw.len() > Self::MAX_LEN {
            return Err(ValidationError::max_len("qualifier", raw, Self::MAX_LEN));
        }
        if raw == Self::LATEST {
            return Ok(Qualifier::Latest);
        }
        if raw.bytes().all(|b| b.is_ascii_digit()) {
            return match raw.parse::<u64>() {
                Ok(n) if n > 0 => Ok(Qualifier::Version(n)),
                _ => Err(ValidationError::pattern("qualifier", raw, PATTERN)),
            };
        }
        if raw.chars().all(is_name_char) {
            Ok(Qualifier::Alias(raw.to_owned()))
        } else {
            Err(ValidationError::pattern("qualifier", raw, PATTERN))
        }
    }
}

impl fmt::Display for Qualifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Qualifier::Latest => f.write_str(Self::LATEST),
            Qualifier::Version(n) => write!(f, "{n}"),
            Qualifier::Alias(a) => f.write_str(a),
        }
    }
}

/// A function as a caller names it in a URI: a name, a partial ARN (`123456789012:function:name`)
/// or a full ARN, each optionally followed by `:qualifier`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionRef {
    pub name: FunctionName,
    pub qualifier: Option<Qualifier>,
    /// Region named in a full ARN; the API refuses ARNs of another region.
    pub region: Option<String>,
    /// Account named in an ARN; the API refuses ARNs of another account.
    pub account: Option<String>,
}

impl FunctionRef {
    pub const PATTERN: &'static str = "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?";
    pub const MAX_LEN: usize = 170;

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let bad = || ValidationError::pattern("functionName", raw, Self::PATTERN);
        if raw.is_empty() {
            return Err(ValidationError::min_len("functionName", raw, 1));
        }
        if raw.len() > Self::MAX_LEN {
            return Err(ValidationError::max_len("functionName", raw, Self::MAX_LEN));
        }
        let parts: Vec<&str> = raw.split(':').collect();
        let (region, account, rest): (Option<&str>, Option<&str>, &[&str]) = match parts.as_slice()
        {
            [
                "arn",
                partition,
                "lambda",
                region,
                account,
                "function",
                rest @ ..,
            ] => {
                if !partition.starts_with("aws") || !is_region(region) || !is_account(account) {
                    return Err(bad());
                }
                (Some(region), Some(account), rest)
            }
            [account, "function", rest @ ..] if is_account(account) => (None, Some(account), rest),
            rest => (None, None, rest),
        };
        let (name, qualifier) = match rest {
            [name] => (*name, None),
            [name, q] => (*name, Some(Qualifier::parse(q).map_err(|_| bad())?)),
            _ => return Err(bad()),
        };
        let name = FunctionName::parse(name).map_err(|e| {
            match e.constraint.starts_with("Member must satisfy") {
                true => bad(),
                false => e,
            }
        })?;
        Ok(Self {
            name,
            qualifier,
            region: region.map(str::to_owned),
            account: account.map(str::to_owned),
        })
    }
}

fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_region(s: &str) -> bool {
    // e.g. us-east-1, us-gov-west-1: letters, dashes, and a final digit.
    let mut it = s.rsplitn(2, '-');
    let (Some(digit), Some(head)) = (it.next(), it.next()) else {
        return false;
    };
    digit.len() == 1
        && digit.bytes().all(|b| b.is_ascii_digit())
        && head.split('-').count() >= 2
        && head
            .split('-')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
}

/// Whether a function's environments are per tenant. Chosen at creation, never changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TenancyMode {
    #[serde(rename = "PER_TENANT")]
    PerTenant,
}

impl TenancyMode {
    pub fn as_str(self) -> &'static str {
        match self {
            TenancyMode::PerTenant => "PER_TENANT",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names_follow_aws_rules() {
        assert!(FunctionName::parse("my-func_1").is_ok());
        assert!(FunctionName::parse(&"a".repeat(64)).is_ok());
        assert_eq!(
            FunctionName::parse(&"a".repeat(65)).unwrap_err().field,
            "functionName"
        );
        assert!(FunctionName::parse("bad.name").is_err());
        assert!(FunctionName::parse("").is_err());
    }

    #[test]
    fn refs_accept_names_partial_and_full_arns_with_qualifiers() {
        let r = FunctionRef::parse("f").expect("name");
        assert_eq!((r.name.as_str(), r.qualifier), ("f", None));
        let r = FunctionRef::parse("f:$LATEST").expect("latest");
        assert_eq!(r.qualifier, Some(Qualifier::Latest));
        let r = FunctionRef::parse("000000000000:function:f:3").expect("partial");
        assert_eq!(r.account.as_deref(), Some("000000000000"));
        assert_eq!(r.qualifier, Some(Qualifier::Version(3)));
        let r = FunctionRef::parse("arn:aws:lambda:us-east-1:000000000000:function:f:live")
            .expect("arn");
        assert_eq!(r.region.as_deref(), Some("us-east-1"));
        assert_eq!(r.qualifier, Some(Qualifier::Alias("live".into())));
    }

    #[test]
    fn refs_reject_malformed_input() {
        for bad in [
            "",
            "a:b:c",
            "arn:aws:lambda:us-east-1:123:function:f",
            "arn:aws:s3:us-east-1:000000000000:function:f",
            "f:",
            "f:0",
            "f:a.b",
            "../f",
            "f/g",
        ] {
            assert!(FunctionRef::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(FunctionRef::parse(&"a".repeat(171)).is_err());
    }

    #[test]
    fn qualifiers_tell_versions_from_aliases() {
        assert_eq!(Qualifier::parse("12"), Ok(Qualifier::Version(12)));
        assert_eq!(
            Qualifier::parse("prod"),
            Ok(Qualifier::Alias("prod".into()))
        );
        assert_eq!(Qualifier::parse("$LATEST"), Ok(Qualifier::Latest));
        assert!(Qualifier::parse("$latest").is_err());
        assert_eq!(Qualifier::Version(7).to_string(), "7");
    }
}
