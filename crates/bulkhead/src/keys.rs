//! Access keys the server accepts, and the documented local pair used by the demo and tests.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, bail};

/// The documented local pair. Accepted only when no keys are configured and the server listens
/// on loopback, so a forgotten configuration can never expose it to a network.
pub const LOCAL_ACCESS_KEY_ID: &str = "BULKHEADLOCALDEMOKEY";
pub const LOCAL_SECRET_ACCESS_KEY: &str = "bulkhead/local/demo/secret/not/for/prod";

/// Parses `ID:SECRET` entries separated by newlines or commas; `#` starts a comment line.
pub fn parse(text: &str, origin: &str) -> anyhow::Result<HashMap<String, String>> {
    let mut keys = HashMap::new();
    for (i, entry) in text.split(['\n', ',']).enumerate() {
        let entry = entry.trim();
        if entry.is_empty() || entry.starts_with('#') {
            continue;
        }
        let Some((id, secret)) = entry.split_once(':') else {
            bail!("{origin}: entry {} is not ACCESS_KEY_ID:SECRET", i + 1);
        };
        let (id, secret) = (id.trim(), secret.trim());
        if id.is_empty() || secret.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
            bail!(
                "{origin}: entry {} has an empty or non-alphanumeric access key id, or an empty secret",
                i + 1
            );
        }
        keys.insert(id.to_owned(), secret.to_owned());
    }
    Ok(keys)
}

pub fn load(file: Option<&Path>, env: Option<&str>) -> anyhow::Result<HashMap<String, String>> {
    let mut keys = HashMap::new();
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading access keys from {}", path.display()))?;
        keys.extend(parse(&text, &path.display().to_string())?);
    }
    if let Some(text) = env {
        keys.extend(parse(text, "BULKHEAD_ACCESS_KEYS")?);
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lines_commas_and_comments() {
        let keys = parse("# local\nAKID1:s1\n\nAKID2:s/2,AKID3:s3", "test").expect("parse");
        assert_eq!(keys.len(), 3);
        assert_eq!(keys["AKID2"], "s/2");
    }

    #[test]
    fn refuses_malformed_entries() {
        assert!(parse("nocolon", "t").is_err());
        assert!(parse("AK ID:s", "t").is_err());
        assert!(parse("AKID:", "t").is_err());
    }
}
