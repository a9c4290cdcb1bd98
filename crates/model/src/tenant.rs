use std::fmt;

use crate::ValidationError;

/// A tenant id as Lambda accepts it on `X-Amz-Tenant-Id`: 1–256 characters of
/// `[a-zA-Z0-9._:/=+\-@ ]`.
///
/// The alphabet allows `/`, `.` and spaces, so the raw value must never become a path, a cgroup
/// name or a log stream name; [`TenantId::encoded`] gives the one form that may.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(String);

impl TenantId {
    pub const MAX_LEN: usize = 256;
    pub const PATTERN: &'static str = "[a-zA-Z0-9\\._:\\/=+\\-@ ]+";

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        if raw.is_empty() {
            return Err(ValidationError::min_len("tenantId", raw, 1));
        }
        if raw.len() > Self::MAX_LEN {
            return Err(ValidationError::max_len("tenantId", raw, Self::MAX_LEN));
        }
        let ok = raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._:/=+-@ ".contains(c));
        if !ok {
            return Err(ValidationError::pattern("tenantId", raw, Self::PATTERN));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A lower-case hex encoding: injective (no two tenants collide), and made only of
    /// `[0-9a-f]`, so it cannot traverse a path or break a name that embeds it.
    pub fn encoded(&self) -> String {
        use fmt::Write;
        self.0
            .bytes()
            .fold(String::with_capacity(self.0.len() * 2), |mut s, b| {
                let _ = write!(s, "{b:02x}");
                s
            })
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TenantId({:?})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_whole_alphabet() {
        let t = TenantId::parse("Blue.tenant_1:/=+-@ x").expect("valid");
        assert_eq!(t.as_str(), "Blue.tenant_1:/=+-@ x");
    }

    #[test]
    fn rejects_empty_long_and_foreign_characters() {
        assert_eq!(TenantId::parse("").unwrap_err().field, "tenantId");
        assert!(TenantId::parse(&"a".repeat(257)).is_err());
        assert!(TenantId::parse(&"a".repeat(256)).is_ok());
        for bad in ["a\0b", "ä", "a\nb", "a;b", "a%2e", "a\\b", "a#"] {
            assert!(TenantId::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn encoding_is_injective_and_path_safe() {
        let a = TenantId::parse("../etc").expect("valid");
        let b = TenantId::parse("..%2fetc".replace('%', "").as_str()).expect("valid");
        assert_ne!(a.encoded(), b.encoded());
        assert!(a.encoded().chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(TenantId::parse("A").expect("valid").encoded(), "41");
    }
}
