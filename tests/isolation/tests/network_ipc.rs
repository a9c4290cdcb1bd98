//! Tenant A tries to talk to tenant B or to the host: TCP, unix and abstract sockets, SysV and
//! POSIX IPC. Each test's doc comment says what the attack tried.

use bulkhead_isolation_tests::{Lab, host_address, host_unix_socket_paths};

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Tried: connect to 127.0.0.1:8080 and [::1]:8080, where B listens and answers with its
/// secret, and look for B's listener in `/proc/net/tcp`. A's loopback is its own: refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cannot_connect_to_the_neighbours_loopback_port() {
    let Some(lab) = Lab::new() else { return };
    let victim = lab.victim().await;
    let port = victim.get("port").to_owned();
    let targets = [format!("127.0.0.1:{port}"), format!("[::1]:{port}")];
    let mut args = vec!["connect-tcp"];
    args.extend(strs(&targets));
    let attack = lab.attack(&args).await;
    // [::1] is refused, or unroutable where the environment's loopback has no IPv6.
    attack
        .assert_blocked()
        .assert_reasons_within(&["ECONNREFUSED", "EADDRNOTAVAIL", "ENETUNREACH"])
        .assert_reason("ECONNREFUSED");
    victim.assert_untouched(&attack).await;
}

/// Tried: connect to a TCP service of the host on 127.0.0.1, to one bound to every address
/// (as a control API listening on 0.0.0.0 would be) through 127.0.0.1 and through the host's
/// own address, and to 127.0.0.1:9000 (the control API's default port). The host's listeners
/// accepted nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cannot_reach_host_loopback_services_or_the_control_api() {
    let Some(lab) = Lab::new() else { return };
    let victim = lab.victim().await;
    let host = lab.host_listeners().await;
    let mut targets = vec![
        host.loopback.to_string(),
        format!("127.0.0.1:{}", host.any.port()),
        "127.0.0.1:9000".to_owned(),
    ];
    if let Some(ip) = host_address() {
        targets.push(format!("{ip}:{}", host.any.port()));
    }
    let mut args = vec!["connect-tcp"];
    args.extend(strs(&targets));
    let attack = lab.attack(&args).await;
    attack
        .assert_blocked()
        .assert_reasons_within(&["ECONNREFUSED", "ENETUNREACH"]);
    assert_eq!(
        host.accepted(),
        0,
        "a host listener accepted a connection from A\n{}",
        attack.transcript()
    );
    victim.assert_untouched(&attack).await;
}

/// Tried: connect to addresses off the box: the cloud metadata service (169.254.169.254), a
/// public resolver, private ranges. The environment's network has only loopback: no route.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn has_no_route_off_the_box() {
    let Some(lab) = Lab::new() else { return };
    let victim = lab.victim().await;
    let attack = lab
        .attack(&[
            "connect-tcp",
            "169.254.169.254:80",
            "8.8.8.8:53",
            "10.0.0.1:80",
            "192.168.1.1:80",
            "172.17.0.1:2375",
            "[2001:4860:4860::8888]:53",
        ])
        .await;
    attack
        .assert_blocked()
        .assert_reasons_within(&["ENETUNREACH"]);
    victim.assert_untouched(&attack).await;
}

/// Tried: connect to a unix socket the test listens on in its data dir, to every unix socket
/// path the host has open (from the host's `/proc/net/unix`), to well-known daemon sockets,
/// and to B's `/tmp/victim.sock`. None of those paths exists in A's root.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cannot_connect_to_host_or_neighbour_unix_socket_paths() {
    let Some(lab) = Lab::new() else { return };
    let victim = lab.victim().await;
    let host = lab.host_listeners().await;
    let mut targets = vec![
        host.unix_path.display().to_string(),
        victim.get("unix").to_owned(),
    ];
    for known in [
        "/run/systemd/private",
        "/run/dbus/system_bus_socket",
        "/var/run/docker.sock",
        "/run/containerd/containerd.sock",
        "/dev/log",
    ] {
        targets.push(known.to_owned());
    }
    targets.extend(host_unix_socket_paths(40));
    let mut args = vec!["connect-unix"];
    args.extend(strs(&targets));
    let attack = lab.attack(&args).await;
    attack.assert_blocked().assert_reasons_within(&["ENOENT"]);
    assert_eq!(
        host.accepted(),
        0,
        "the host's socket accepted a connection from A\n{}",
        attack.transcript()
    );
    victim.assert_untouched(&attack).await;
}

/// Tried: connect to an abstract unix socket of the host (`@bulkhead-test-<random>`) and to
/// B's (`@bulkhead-victim-<random>`), and look for them in `/proc/net/unix`. Abstract names
/// belong to a network namespace, and A's holds none of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cannot_connect_to_abstract_sockets_of_the_host_or_the_neighbour() {
    let Some(lab) = Lab::new() else { return };
    let victim = lab.victim().await;
    let host = lab.host_listeners().await;
    let attack = lab
        .attack(&[
            "connect-abstract",
            &host.abstract_name,
            victim.get("abstract"),
        ])
        .await;
    attack
        .assert_blocked()
        .assert_reasons_within(&["ECONNREFUSED"]);
    assert_eq!(
        host.accepted(),
        0,
        "the host's abstract socket accepted a connection from A\n{}",
        attack.transcript()
    );
    victim.assert_untouched(&attack).await;
}

/// Tried: find B's SysV objects — shared memory, semaphore and message queue, all mode 0666 —
/// by key (shmget, semget, msgget) and by id (shmat, shmctl, semctl, msgrcv), and list
/// `/proc/sysvipc/*`; then shmget B's key with IPC_CREAT, which gives A a fresh, zeroed
/// segment of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cannot_see_the_neighbours_sysv_shm_sem_or_msg() {
    let Some(lab) = Lab::new() else { return };
    let victim = lab.victim().await;
    let keys = [
        "shm_key", "shm_id", "sem_key", "sem_id", "msg_key", "msg_id",
    ]
    .map(|k| victim.get(k).to_owned());
    let mut args = vec!["sysv-ipc"];
    args.extend(strs(&keys));
    let attack = lab.attack(&args).await;
    attack
        .assert_blocked()
        .assert_reasons_within(&["ENOENT", "EINVAL", "EMPTY", "FRESH-SEGMENT"])
        .assert_reason("FRESH-SEGMENT");
    victim.assert_untouched(&attack).await;
}

/// Tried: open B's POSIX message queue by name (it holds B's secret) and list `/dev/mqueue`;
/// then create a queue of A's own, which is private and empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cannot_open_the_neighbours_posix_message_queue() {
    let Some(lab) = Lab::new() else { return };
    let victim = lab.victim().await;
    let attack = lab.attack(&["posix-mq", victim.get("mq")]).await;
    attack
        .assert_blocked()
        .assert_reasons_within(&["ENOENT"])
        .assert_note("own queue is private and empty");
    victim.assert_untouched(&attack).await;
}

/// Tried: list or create `/dev/shm` and `/run/shm`, and shm_open a POSIX shared memory object.
/// There is no `/dev/shm`, and A cannot make one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn has_no_dev_shm() {
    let Some(lab) = Lab::new() else { return };
    let victim = lab.victim().await;
    let attack = lab.attack(&["dev-shm"]).await;
    attack
        .assert_blocked()
        .assert_reasons_within(&["ENOENT", "EACCES", "EROFS"]);
    victim.assert_untouched(&attack).await;
}
