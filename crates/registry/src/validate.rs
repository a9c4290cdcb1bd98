//! Field rules, each failure naming its member as AWS does. Where AWS's exact words are not
//! documented the message says plainly what is wrong; those places are marked UNCONFIRMED.

use std::collections::BTreeMap;

use bulkhead_model::{Runtime, ValidationError};

use crate::RegistryError;

pub(crate) const MEMORY_MB: (i64, i64) = (128, 10_240);
pub(crate) const TIMEOUT_S: (i64, i64) = (1, 900);
pub(crate) const EPHEMERAL_MB: (i64, i64) = (512, 10_240);
const ENV_MAX_BYTES: usize = 4096;

/// Variables Lambda sets itself; a function may not override them.
const RESERVED_ENV: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];

pub(crate) fn required<T>(value: Option<T>, field: &'static str) -> Result<T, ValidationError> {
    value.ok_or_else(|| ValidationError::new(field, "null", "Member must not be null"))
}

pub(crate) fn runtime(raw: &str) -> Result<Runtime, ValidationError> {
    raw.parse()
}

pub(crate) fn role(raw: &str) -> Result<String, ValidationError> {
    const PATTERN: &str = "arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+";
    let bad = || ValidationError::pattern("role", raw, PATTERN);
    let rest = raw.strip_prefix("arn:").ok_or_else(bad)?;
    let (partition, rest) = rest.split_once(':').ok_or_else(bad)?;
    if !(partition.is_empty() || partition.starts_with("aws"))
        || !partition
            .chars()
            .all(|c| c.is_ascii_alphabetic() || c == '-')
    {
        return Err(bad());
    }
    let rest = rest.strip_prefix("iam::").ok_or_else(bad)?;
    let (account, rest) = rest.split_once(':').ok_or_else(bad)?;
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let path = rest.strip_prefix("role").ok_or_else(bad)?;
    let path = path.strip_prefix('/').unwrap_or(path);
    let ok = !path.is_empty()
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-/".contains(c));
    if !ok || raw.len() > 2048 {
        return Err(bad());
    }
    Ok(raw.to_owned())
}

pub(crate) fn handler(raw: &str) -> Result<String, ValidationError> {
    if raw.len() > 128 {
        return Err(ValidationError::max_len("handler", raw, 128));
    }
    if raw.is_empty() || raw.chars().any(char::is_whitespace) {
        return Err(ValidationError::pattern("handler", raw, "[^\\s]+"));
    }
    Ok(raw.to_owned())
}

/// A handler is optional only for OS-only runtimes, whose package brings its own `bootstrap`.
// UNCONFIRMED wording: AWS documents the rule, not its message.
pub(crate) fn handler_for(runtime: Runtime, handler: Option<&String>) -> Result<(), RegistryError> {
    if runtime.needs_handler() && handler.is_none() {
        return Err(RegistryError::InvalidParameter(format!(
            "Handler is required for runtime {runtime}: set Handler (for example app.handler)."
        )));
    }
    Ok(())
}

pub(crate) fn description(raw: &str) -> Result<String, ValidationError> {
    if raw.chars().count() > 256 {
        return Err(ValidationError::max_len("description", raw, 256));
    }
    Ok(raw.to_owned())
}

pub(crate) fn memory(v: i64) -> Result<u32, ValidationError> {
    Ok(ValidationError::check_range("memorySize", v, MEMORY_MB.0, MEMORY_MB.1)? as u32)
}

pub(crate) fn timeout(v: i64) -> Result<u32, ValidationError> {
    Ok(ValidationError::check_range("timeout", v, TIMEOUT_S.0, TIMEOUT_S.1)? as u32)
}

pub(crate) fn ephemeral(v: i64) -> Result<u32, ValidationError> {
    Ok(
        ValidationError::check_range("ephemeralStorage.size", v, EPHEMERAL_MB.0, EPHEMERAL_MB.1)?
            as u32,
    )
}

pub(crate) fn environment(vars: &BTreeMap<String, String>) -> Result<(), RegistryError> {
    for key in vars.keys() {
        let mut chars = key.chars();
        let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && key.len() >= 2
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            return Err(ValidationError::pattern(
                "environment.variables",
                key,
                "[a-zA-Z]([a-zA-Z0-9_])+",
            )
            .into());
        }
    }
    let reserved: Vec<&str> = vars
        .keys()
        .map(String::as_str)
        .filter(|k| RESERVED_ENV.contains(k))
        .collect();
    if !reserved.is_empty() {
        return Err(RegistryError::InvalidParameter(format!(
            "Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: {}",
            reserved.join(", ")
        )));
    }
    let measured = serde_json::to_string(vars).unwrap_or_default();
    if measured.len() > ENV_MAX_BYTES {
        let mut shown = measured;
        shown.truncate(shown.floor_char_boundary(ENV_MAX_BYTES + 64));
        return Err(RegistryError::InvalidParameter(format!(
            "Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: {shown}"
        )));
    }
    Ok(())
}

/// Both of Lambda's architectures are accepted and recorded, as on AWS: interpreted functions run
/// on either, and a `provided` bootstrap built for another CPU fails at its first start with the
/// runtime's own exec error (Runtime.InvalidEntrypoint), as it would on a mismatched AWS function.
pub(crate) fn architectures(archs: &[String]) -> Result<Vec<String>, RegistryError> {
    match archs {
        [] => Ok(vec!["x86_64".to_owned()]),
        [one] if one == "x86_64" || one == "arm64" => Ok(vec![one.clone()]),
        [one] => Err(ValidationError::new(
            "architectures",
            format!("[{one}]"),
            "Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64]]",
        )
        .into()),
        _ => Err(ValidationError::max_len("architectures", format!("{archs:?}"), 1).into()),
    }
}

/// Lambda features that would change what runs and that Bulkhead does not implement are refused
/// with a reason, never silently dropped.
pub(crate) fn unsupported(what: &str, why: &str) -> RegistryError {
    RegistryError::InvalidParameter(format!("{what} is not supported by Bulkhead: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_follow_the_iam_arn_pattern() {
        assert!(role("arn:aws:iam::123456789012:role/lambda-role").is_ok());
        assert!(role("arn:aws:iam::123456789012:role/path/to/r").is_ok());
        for bad in [
            "",
            "role",
            "arn:aws:iam::12:role/r",
            "arn:aws:iam::123456789012:user/u",
            "arn:aws:iam::123456789012:role/",
        ] {
            assert_eq!(role(bad).unwrap_err().field, "role", "{bad}");
        }
    }

    #[test]
    fn ranges_name_their_member() {
        assert_eq!(memory(127).unwrap_err().field, "memorySize");
        assert!(
            memory(10_241)
                .unwrap_err()
                .to_string()
                .contains("less than or equal to 10240")
        );
        assert_eq!(timeout(0).unwrap_err().field, "timeout");
        assert_eq!(timeout(900), Ok(900));
        assert_eq!(ephemeral(511).unwrap_err().field, "ephemeralStorage.size");
    }

    #[test]
    fn environment_refuses_reserved_keys_and_oversize() {
        let mut vars = BTreeMap::new();
        vars.insert("AWS_REGION".to_owned(), "x".to_owned());
        let e = environment(&vars).unwrap_err().to_string();
        assert!(
            e.ends_with("Reserved keys used in this request: AWS_REGION"),
            "{e}"
        );
        let mut big = BTreeMap::new();
        big.insert("BIG".to_owned(), "x".repeat(4100));
        assert!(environment(&big).unwrap_err().to_string().contains("4KB"));
        let mut bad = BTreeMap::new();
        bad.insert("1X".to_owned(), String::new());
        assert!(environment(&bad).is_err());
    }
}
