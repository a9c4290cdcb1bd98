use super::*;

fn key(tenant: &str) -> EnvKey {
    EnvKey {
        function: "f".into(),
        version: "$LATEST".into(),
        revision: "r1".into(),
        tenant: Some(TenantId::parse(tenant).expect("tenant")),
    }
}

fn bound(tenant: &str, id: u32) -> Env<u32> {
    Unbound::new("f".into(), "$LATEST".into(), "r1".into(), id)
        .bind(Some(TenantId::parse(tenant).expect("tenant")))
}

#[test]
fn i1_an_environment_keeps_the_key_it_was_bound_to() {
    let env = bound("blue", 1);
    assert_eq!(env.key(), &key("blue"));
    let mut pool = Pool::default();
    pool.checkin(env);
    let env = pool.checkout(&key("blue")).expect("idle");
    assert_eq!(
        env.key(),
        &key("blue"),
        "a round trip through the pool changes nothing"
    );
}

#[test]
fn i2_checkout_never_hands_out_another_tenants_environment() {
    let mut pool = Pool::default();
    pool.checkin(bound("blue", 1));
    assert!(pool.checkout(&key("green")).is_none());
    let mut other_revision = key("blue");
    other_revision.revision = "r2".into();
    assert!(
        pool.checkout(&other_revision).is_none(),
        "an updated function never reuses old environments"
    );
    assert_eq!(pool.checkout(&key("blue")).map(|e| *e.inner()), Some(1));
}

#[test]
fn i2_checkout_prefers_the_most_recently_used() {
    let mut pool = Pool::default();
    pool.checkin(bound("blue", 1));
    pool.checkin(bound("blue", 2));
    assert_eq!(pool.checkout(&key("blue")).map(|e| *e.inner()), Some(2));
}

#[test]
fn i3_binding_consumes_the_unbound_environment() {
    // `Unbound::bind` takes `self`; a second bind of the same value is a compile error
    // (use of moved value), which is the point. What can be checked at run time: the
    // bound key carries exactly the deployment it was created for.
    let env = Unbound::new("g".into(), "3".into(), "rev".into(), ()).bind(None);
    assert_eq!(env.key().deployment(), ("g", "3", "rev"));
    assert_eq!(env.key().tenant, None);
}

#[test]
fn spares_leave_unbound_and_only_for_their_deployment() {
    let mut spares = Spares::default();
    spares.put(Unbound::new(
        "f".into(),
        "$LATEST".into(),
        "r1".into(),
        7u32,
    ));
    assert!(
        spares.take("f", "$LATEST", "r2").is_none(),
        "another revision never gets it"
    );
    let spare = spares.take("f", "$LATEST", "r1").expect("spare");
    assert!(spares.is_empty());
    let env = spare.bind(Some(TenantId::parse("blue").expect("tenant")));
    assert_eq!(env.key(), &key("blue"));
}

#[test]
fn eviction_takes_the_least_recently_ranked() {
    let mut pool = Pool::default();
    pool.checkin(bound("blue", 5));
    pool.checkin(bound("green", 3));
    pool.checkin(bound("red", 9));
    let evicted = pool.take_min_by(|_| true, |e| *e.inner()).expect("one");
    assert_eq!(evicted.key(), &key("green"));
    assert_eq!(pool.len(), 2);
}
