//! The guarantee, in one place.
//!
//! - **I1.** An environment is bound to exactly one [`EnvKey`] — (function, version, revision,
//!   tenant) — and keeps it for life: the key is a private field, set once by
//!   [`Unbound::bind`], with no setter, and [`Env`] is not `Clone`.
//! - **I2.** Only [`Pool::checkout`] hands out an idle environment, and only for the key it was
//!   filed under; an environment is filed ([`Pool::checkin`]) under its *own* key, never one a
//!   caller supplies.
//! - **I3.** Nothing re-binds: binding consumes the [`Unbound`] sandbox, so binding an
//!   environment twice does not compile.
//!
//! An environment is created and initialised (Lambda's Init, which never sees the tenant)
//! before its tenant is known, as an [`Unbound`] for one (function, version, revision); it is
//! bound at its first invocation. The rest of the router — limits, lifecycle, the Runtime API —
//! builds on these types and cannot break the rules above.
#![forbid(unsafe_code)]

use std::collections::HashMap;

use bulkhead_model::TenantId;

/// What an environment belongs to. `revision` is the configuration's RevisionId, so an update
/// of `$LATEST` (new code, memory, variables) never reuses environments of the old one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EnvKey {
    pub function: String,
    pub version: String,
    pub revision: String,
    /// `None` only for functions without tenant isolation.
    pub tenant: Option<TenantId>,
}

impl EnvKey {
    /// The key without its tenant: what an [`Unbound`] environment is created for.
    pub fn deployment(&self) -> (&str, &str, &str) {
        (&self.function, &self.version, &self.revision)
    }
}

/// An initialised environment whose tenant is not known yet.
pub struct Unbound<T> {
    function: String,
    version: String,
    revision: String,
    inner: T,
}

impl<T> Unbound<T> {
    pub fn new(function: String, version: String, revision: String, inner: T) -> Self {
        Self {
            function,
            version,
            revision,
            inner,
        }
    }

    /// Binds the environment to its tenant, for life.
    pub fn bind(self, tenant: Option<TenantId>) -> Env<T> {
        let Unbound {
            function,
            version,
            revision,
            inner,
        } = self;
        Env {
            key: EnvKey {
                function,
                version,
                revision,
                tenant,
            },
            inner,
        }
    }

    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// The (function, version, revision) it was created for.
    pub fn deployment(&self) -> (&str, &str, &str) {
        (&self.function, &self.version, &self.revision)
    }

    /// For an environment that failed before binding: hands back the inner value to end it.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

/// An environment bound to its key.
pub struct Env<T> {
    key: EnvKey,
    inner: T,
}

impl<T> Env<T> {
    pub fn key(&self) -> &EnvKey {
        &self.key
    }

    pub fn inner(&self) -> &T {
        &self.inner
    }

    pub fn inner_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Ends the binding together with the environment: the caller destroys what it gets back.
    pub fn retire(self) -> T {
        self.inner
    }
}

/// Idle environments, most recently used last in each list.
pub struct Pool<T> {
    idle: HashMap<EnvKey, Vec<Env<T>>>,
}

impl<T> Default for Pool<T> {
    fn default() -> Self {
        Self {
            idle: HashMap::new(),
        }
    }
}

impl<T> Pool<T> {
    /// The most recently used idle environment bound to exactly `key`.
    pub fn checkout(&mut self, key: &EnvKey) -> Option<Env<T>> {
        let list = self.idle.get_mut(key)?;
        let env = list.pop();
        if list.is_empty() {
            self.idle.remove(key);
        }
        debug_assert!(env.as_ref().is_none_or(|e| e.key == *key));
        env
    }

    /// Files an environment under its own key.
    pub fn checkin(&mut self, env: Env<T>) {
        self.idle.entry(env.key.clone()).or_default().push(env);
    }

    /// Removes and returns every idle environment `pick` selects.
    pub fn take_where(&mut self, pick: impl FnMut(&Env<T>) -> bool) -> Vec<Env<T>> {
        take_where(&mut self.idle, pick)
    }

    /// Removes the idle environment with the smallest `rank` among those `pick` selects
    /// (e.g. the least recently used of one function).
    pub fn take_min_by<K: Ord>(
        &mut self,
        pick: impl Fn(&Env<T>) -> bool,
        rank: impl Fn(&Env<T>) -> K,
    ) -> Option<Env<T>> {
        let (key, index) = self
            .idle
            .iter()
            .flat_map(|(k, list)| list.iter().enumerate().map(move |(i, e)| (k, i, e)))
            .filter(|(_, _, e)| pick(e))
            .min_by_key(|(_, _, e)| rank(e))
            .map(|(k, i, _)| (k.clone(), i))?;
        let list = self.idle.get_mut(&key)?;
        let env = list.remove(index);
        if list.is_empty() {
            self.idle.remove(&key);
        }
        Some(env)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Env<T>> {
        self.idle.values().flatten()
    }

    pub fn len(&self) -> usize {
        self.idle.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.idle.is_empty()
    }
}

/// Removes every value `pick` selects from a map of lists, dropping lists left empty.
fn take_where<K, V>(map: &mut HashMap<K, Vec<V>>, mut pick: impl FnMut(&V) -> bool) -> Vec<V> {
    let mut taken = Vec::new();
    map.retain(|_, list| {
        let mut i = 0;
        while i < list.len() {
            if pick(&list[i]) {
                taken.push(list.remove(i));
            } else {
                i += 1;
            }
        }
        !list.is_empty()
    });
    taken
}

/// Initialised environments no tenant has used yet, per deployment, so a new tenant's first
/// invocation skips Init. Taking one is the only way out, and it leaves as an [`Unbound`] that
/// only [`Unbound::bind`] turns into an [`Env`].
pub struct Spares<T> {
    ready: HashMap<(String, String, String), Vec<Unbound<T>>>,
}

impl<T> Default for Spares<T> {
    fn default() -> Self {
        Self {
            ready: HashMap::new(),
        }
    }
}

fn deployment_key<T>(u: &Unbound<T>) -> (String, String, String) {
    (u.function.clone(), u.version.clone(), u.revision.clone())
}

impl<T> Spares<T> {
    pub fn take(&mut self, function: &str, version: &str, revision: &str) -> Option<Unbound<T>> {
        let key = (function.to_owned(), version.to_owned(), revision.to_owned());
        let list = self.ready.get_mut(&key)?;
        let spare = list.pop();
        if list.is_empty() {
            self.ready.remove(&key);
        }
        spare
    }

    pub fn put(&mut self, spare: Unbound<T>) {
        self.ready
            .entry(deployment_key(&spare))
            .or_default()
            .push(spare);
    }

    pub fn count(&self, function: &str, version: &str, revision: &str) -> usize {
        let key = (function.to_owned(), version.to_owned(), revision.to_owned());
        self.ready.get(&key).map_or(0, Vec::len)
    }

    /// Removes and returns every spare `pick` selects.
    pub fn take_where(&mut self, pick: impl FnMut(&Unbound<T>) -> bool) -> Vec<Unbound<T>> {
        take_where(&mut self.ready, pick)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Unbound<T>> {
        self.ready.values().flatten()
    }

    pub fn len(&self) -> usize {
        self.ready.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.ready.is_empty()
    }
}

#[cfg(test)]
mod tests;
