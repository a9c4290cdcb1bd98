//! Host uid/gid pairs, one per environment, from a configured range. An environment's root and
//! its function user map to host ids no other environment (and no host account) uses, so even a
//! process that escaped its mount namespace would own nothing of anyone else's.

use std::sync::Mutex;

/// Ids inside every environment. Lambda's function user is `sbx_user1051` (993:990).
pub const FUNCTION_UID: u32 = 993;
pub const FUNCTION_GID: u32 = 990;

pub struct UidPool {
    base: u32,
    slots: u32,
    free: Mutex<Vec<u32>>,
}

/// One environment's host ids: `root` is what uid/gid 0 inside maps to, `function` what
/// [`FUNCTION_UID`]/[`FUNCTION_GID`] map to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostIds {
    pub slot: u32,
    pub root: u32,
    pub function: u32,
}

impl HostIds {
    /// The `uid_map`/`gid_map` text for this environment.
    pub fn map(&self, inside_function: u32) -> String {
        format!("0 {} 1\n{inside_function} {} 1\n", self.root, self.function)
    }
}

impl UidPool {
    /// `slots` environments from host id `base` on; each takes two ids.
    pub fn new(base: u32, slots: u32) -> Self {
        let free = (0..slots).rev().collect();
        Self {
            base,
            slots,
            free: Mutex::new(free),
        }
    }

    pub fn take(&self) -> Option<HostIds> {
        let slot = self.free.lock().ok()?.pop()?;
        Some(HostIds {
            slot,
            root: self.base + 2 * slot,
            function: self.base + 2 * slot + 1,
        })
    }

    pub fn give_back(&self, ids: HostIds) {
        if let Ok(mut free) = self.free.lock()
            && ids.slot < self.slots
            && !free.contains(&ids.slot)
        {
            free.push(ids.slot);
        }
    }

    pub fn capacity(&self) -> u32 {
        self.slots
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_unique_until_returned() {
        let pool = UidPool::new(1_000_000, 3);
        let a = pool.take().expect("a");
        let b = pool.take().expect("b");
        let c = pool.take().expect("c");
        assert!(pool.take().is_none());
        let mut ids = vec![a.root, a.function, b.root, b.function, c.root, c.function];
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 6, "no two environments share a host id");
        pool.give_back(b);
        pool.give_back(b);
        assert_eq!(pool.take(), Some(b));
        assert!(
            pool.take().is_none(),
            "a double return does not mint a second slot"
        );
    }

    #[test]
    fn maps_give_root_and_the_function_user_their_own_host_ids() {
        let ids = HostIds {
            slot: 0,
            root: 1_000_000,
            function: 1_000_001,
        };
        assert_eq!(ids.map(FUNCTION_UID), "0 1000000 1\n993 1000001 1\n");
    }
}
