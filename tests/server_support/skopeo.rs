//! Running `skopeo` (Debian package `skopeo`) in tests.

/// Whether skopeo can run; without it a test prints a skip line and passes, unless
/// `S3DRIVER_REQUIRE_SKOPEO=1` (CI), which makes that a failure.
pub fn available() -> bool {
    match std::process::Command::new("skopeo")
        .arg("--version")
        .output()
    {
        Ok(o) if o.status.success() => true,
        _ => {
            assert!(
                std::env::var("S3DRIVER_REQUIRE_SKOPEO").as_deref() != Ok("1"),
                "S3DRIVER_REQUIRE_SKOPEO=1 but skopeo is not installed (apt-get install -y skopeo)"
            );
            eprintln!("skipped: skopeo is not installed (apt-get install -y skopeo)");
            false
        }
    }
}

/// `skopeo --insecure-policy <args>`, which must succeed; returns its standard output.
pub async fn run(args: &[&str]) -> String {
    let out = output(args).await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "skopeo {} failed: {}\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr),
        stdout
    );
    stdout
}

/// `skopeo --insecure-policy <args>`, whatever its outcome.
pub async fn output(args: &[&str]) -> std::process::Output {
    tokio::process::Command::new("skopeo")
        .arg("--insecure-policy")
        .args(args)
        .output()
        .await
        .expect("run skopeo")
}

/// `skopeo --insecure-policy <args>`: its standard output, or its standard error when it
/// fails.
pub async fn try_run(args: &[&str]) -> Result<String, String> {
    let out = output(args).await;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}
