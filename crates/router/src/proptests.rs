//! Random interleavings of invocations, completions, crashes and evictions over the pool and
//! the admission bookkeeping, asserting the isolation invariant and the accounting on every step.

use std::collections::HashMap;

use bulkhead_model::TenantId;
use proptest::prelude::*;

use crate::isolation::{Env, EnvKey, Pool, Unbound};
use crate::limits::{Limits, Usage};

/// A stand-in environment: its id and the key it was *born* for, recorded independently of the
/// pool so the test can tell if the pool ever moves one.
#[derive(Debug)]
struct Fake {
    id: u32,
    born_for: EnvKey,
}

#[derive(Debug, Clone)]
enum Step {
    Invoke { function: u8, tenant: u8 },
    Complete { slot: u8 },
    Crash { slot: u8 },
    EvictOldest,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0u8..3, 0u8..6).prop_map(|(function, tenant)| Step::Invoke { function, tenant }),
        3 => any::<u8>().prop_map(|slot| Step::Complete { slot }),
        1 => any::<u8>().prop_map(|slot| Step::Crash { slot }),
        1 => Just(Step::EvictOldest),
    ]
}

fn key(function: u8, tenant: u8) -> EnvKey {
    EnvKey {
        function: format!("f{function}"),
        version: "$LATEST".into(),
        revision: "r".into(),
        // Function 2 is not isolated: one key for everyone, Lambda's ordinary reuse.
        tenant: (function != 2).then(|| TenantId::parse(&format!("t{tenant}")).expect("tenant")),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn environments_never_cross_keys_and_accounting_balances(steps in prop::collection::vec(step(), 1..200)) {
        let limits = Limits { account_concurrency: 6, memory_budget_mb: 8 * 128 };
        let mut pool: Pool<Fake> = Pool::default();
        let mut usage = Usage::default();
        let mut busy: Vec<(Env<Fake>, u32)> = Vec::new();
        let mut next_id = 0u32;
        let mut clock = 0u32;
        let mut last_used: HashMap<u32, u32> = HashMap::new();
        let mut live: u32 = 0;

        for step in steps {
            clock += 1;
            match step {
                Step::Invoke { function, tenant } => {
                    let k = key(function, tenant);
                    if usage.admit(&limits, &k.function, None).is_err() {
                        continue;
                    }
                    let env = match pool.checkout(&k) {
                        Some(env) => env,
                        None => {
                            if !usage.memory_allows(&limits, 128) {
                                if let Some(old) = pool.take_min_by(|_| true, |e| last_used[&e.inner().id]) {
                                    usage.remove_environment(&old.key().function.clone(), 128);
                                    live -= 1;
                                } else {
                                    usage.finish(&k.function);
                                    continue;
                                }
                            }
                            usage.add_environment(&k.function, 128);
                            live += 1;
                            next_id += 1;
                            let fake = Fake { id: next_id, born_for: k.clone() };
                            Unbound::new(k.function.clone(), k.version.clone(), k.revision.clone(), fake).bind(k.tenant.clone())
                        }
                    };
                    // The invariant: whatever the pool hands out is bound to the asked key and
                    // is the environment that was born for it.
                    prop_assert_eq!(env.key(), &k);
                    prop_assert_eq!(&env.inner().born_for, &k);
                    busy.push((env, clock));
                }
                Step::Complete { slot } if !busy.is_empty() => {
                    let (env, _) = busy.remove(usize::from(slot) % busy.len());
                    usage.finish(&env.key().function);
                    last_used.insert(env.inner().id, clock);
                    pool.checkin(env);
                }
                Step::Crash { slot } if !busy.is_empty() => {
                    let (env, _) = busy.remove(usize::from(slot) % busy.len());
                    let function = env.key().function.clone();
                    usage.finish(&function);
                    usage.remove_environment(&function, 128);
                    live -= 1;
                    drop(env.retire());
                }
                Step::EvictOldest => {
                    if let Some(old) = pool.take_min_by(|_| true, |e| last_used[&e.inner().id]) {
                        usage.remove_environment(&old.key().function.clone(), 128);
                        live -= 1;
                    }
                }
                _ => {}
            }
            // Accounting matches what exists, on every step.
            prop_assert_eq!(usage.busy() as usize, busy.len());
            prop_assert_eq!(usage.memory_mb(), u64::from(live) * 128);
            prop_assert_eq!(pool.len() + busy.len(), live as usize);
            prop_assert!(usage.busy() <= limits.account_concurrency);
            prop_assert!(usage.memory_mb() <= limits.memory_budget_mb);
            for env in pool.iter() {
                prop_assert_eq!(env.key(), &env.inner().born_for);
            }
        }
    }
}
