use bulkhead_isolation_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explore() {
    let Some(lab) = Lab::new() else { return };
    let a = lab
        .attack(&[
            "read",
            "/proc/self/mountinfo",
            "/proc/self/cgroup",
            "/proc/self/environ",
            "/proc/1/mountinfo",
            "/proc/1/cmdline",
            "/proc/1/status",
            "/etc/ssl",
            "/proc/self/uid_map",
            "/proc/self/limits",
        ])
        .await;
    println!("{}", a.transcript());
}
