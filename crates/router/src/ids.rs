//! Request and trace ids for the warm path: a per-process random 64-bit key mixed with a counter,
//! formatted as Lambda's ids look. Unique within the process, unpredictable without the key, and
//! free of a `getrandom` system call per invocation (the warm path makes three).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

static KEY: OnceLock<(u64, u64)> = OnceLock::new();
static COUNTER: AtomicU64 = AtomicU64::new(0);

fn key() -> (u64, u64) {
    *KEY.get_or_init(|| {
        let b = *uuid::Uuid::new_v4().as_bytes();
        let (hi, lo) = b.split_at(8);
        let word = |s: &[u8]| s.iter().fold(0u64, |acc, x| (acc << 8) | u64::from(*x));
        (word(hi), word(lo) | 1)
    })
}

/// SplitMix64: a bijection, so distinct counters give distinct outputs.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn next128() -> (u64, u64) {
    let (k1, k2) = key();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    (mix(n ^ k1), mix(n.wrapping_mul(k2)))
}

/// A request id shaped like a version-4 UUID (`xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`).
pub fn request_id() -> String {
    let (a, b) = next128();
    let b = (b & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0x0fff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

/// 32 hex digits, for log stream names and trace ids.
pub fn hex128() -> String {
    let (a, b) = next128();
    format!("{a:016x}{b:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_uuid_shaped() {
        let ids: std::collections::HashSet<String> = (0..10_000).map(|_| request_id()).collect();
        assert_eq!(ids.len(), 10_000);
        for id in ids.iter().take(100) {
            let parsed = uuid::Uuid::parse_str(id).expect("uuid-shaped");
            assert_eq!(parsed.get_version_num(), 4, "{id}");
        }
        assert_eq!(hex128().len(), 32);
    }
}
