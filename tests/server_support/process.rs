//! `s3driver serve` as a child process (the real binary), for tests that need
//! separate processes: several registries on one bucket, `kill -9`.

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// A failure guard: how long a registry may take to report its address.
pub const STARTUP_DEADLINE: Duration = Duration::from_secs(30);

/// One `s3driver serve` child process; killed when dropped (also when a test
/// panics, which then prints the end of its stderr).
pub struct ServeProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The debug listener (`http.debug.addr`), when configured.
    pub debug_base: Option<String>,
    /// Everything the process wrote to stderr so far (read by a thread, so the
    /// pipe never fills).
    log: Arc<Mutex<String>>,
    /// Everything it wrote to stdout (the access log).
    out: Arc<Mutex<String>>,
}

impl ServeProcess {
    /// Starts `s3driver serve --config <config>` and waits (at most
    /// [`STARTUP_DEADLINE`]) for its `listening ... addr=127.0.0.1:PORT` line.
    /// The configuration must set `http.addr: 127.0.0.1:0` and a log level of
    /// at least `info`.
    pub async fn start(config: &Path) -> ServeProcess {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_s3driver"));
        cmd.args(["serve", "--config"])
            .arg(config)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // Only the file configures the registry: no REGISTRY_* overrides from the environment.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("REGISTRY_") {
                cmd.env_remove(key);
            }
        }
        let mut child = cmd.spawn().expect("start s3driver serve");
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = tokio::sync::oneshot::channel::<String>();
        let sink = Arc::clone(&log);
        let debug = Arc::new(Mutex::new(None));
        let debug_sink = Arc::clone(&debug);
        let stdout = child.stdout.take();
        let out = Arc::new(Mutex::new(String::new()));
        if let Some(stdout) = stdout {
            let out = Arc::clone(&out);
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(stdout)
                    .lines()
                    .map_while(Result::ok)
                {
                    let mut o = out.lock().unwrap_or_else(PoisonError::into_inner);
                    o.push_str(&line);
                    o.push('\n');
                }
            });
        }
        std::thread::spawn(move || {
            let debug = debug_sink;
            let mut tx = Some(tx);
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                {
                    let mut log = sink.lock().unwrap_or_else(PoisonError::into_inner);
                    log.push_str(&line);
                    log.push('\n');
                }
                // The text format (`... listening addr=127.0.0.1:PORT ...`) or the JSON one
                // (`{"addr":"127.0.0.1:PORT",...,"msg":"listening",...}`).
                let (msg, addr) = match serde_json::from_str::<serde_json::Value>(&line) {
                    Ok(v) => (
                        v["msg"].as_str().unwrap_or_default().to_owned(),
                        v["addr"].as_str().map(str::to_owned),
                    ),
                    Err(_) => (
                        line.clone(),
                        line.split_whitespace()
                            .find_map(|w| w.strip_prefix("addr="))
                            .map(str::to_owned),
                    ),
                };
                let Some(addr) = addr else { continue };
                if msg.contains("debug server ready") {
                    *debug.lock().unwrap_or_else(PoisonError::into_inner) =
                        Some(format!("http://{addr}"));
                } else if msg.contains("listening") {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(addr);
                    }
                }
            }
        });
        let mut process = ServeProcess {
            child,
            base: String::new(),
            debug_base: None,
            log,
            out,
        };
        match tokio::time::timeout(STARTUP_DEADLINE, rx).await {
            Ok(Ok(addr)) => {
                process.base = format!("http://{addr}");
                process.debug_base = debug.lock().unwrap_or_else(PoisonError::into_inner).clone();
            }
            Ok(Err(_)) => panic!(
                "s3driver serve --config {} ended before it listened ({:?}); stderr:\n{}",
                config.display(),
                process.child.try_wait(),
                process.log()
            ),
            Err(_) => panic!(
                "s3driver serve --config {} did not report `listening` within {STARTUP_DEADLINE:?}; stderr:\n{}",
                config.display(),
                process.log()
            ),
        }
        process
    }

    /// What the process wrote to stderr so far.
    pub fn log(&self) -> String {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// What the process wrote to stdout so far.
    pub fn stdout(&self) -> String {
        self.out
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// `kill -9`, and waits for the process to end.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            let log = self.log();
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(50)..];
            eprintln!(
                "--- the last stderr lines of the registry at {} ---\n{}",
                self.base,
                tail.join("\n")
            );
        }
    }
}

/// Debian's `docker-registry` (Distribution 2.8.2) as a child process: the reference the
/// interop tests compare with. Killed when dropped.
pub struct Registry2 {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    log: Arc<Mutex<String>>,
    _dir: tempfile::TempDir,
}

/// Whether `docker-registry` can run here; when it cannot, `S3DRIVER_REQUIRE_DOCKER_REGISTRY=1`
/// (CI) makes that a test failure, else the test prints a skip line.
pub fn registry2_available() -> bool {
    let ok = Command::new("docker-registry")
        .arg("--version")
        .env_remove("AWS_CA_BUNDLE")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("S3DRIVER_REQUIRE_DOCKER_REGISTRY").as_deref() != Ok("1"),
            "S3DRIVER_REQUIRE_DOCKER_REGISTRY=1 but docker-registry is not installed \
             (apt-get install docker-registry)"
        );
        eprintln!("skipped: docker-registry is not installed (apt-get install docker-registry)");
    }
    ok
}

impl Registry2 {
    /// Starts `docker-registry serve` with `yaml` (without an `http` section: one listening
    /// on a free port of 127.0.0.1 is added, with `extra_http` lines under it) and waits
    /// until it answers.
    pub async fn start(yaml: &str, extra_http: &str) -> Registry2 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("config.yml");
        std::fs::write(
            &path,
            format!("{yaml}http:\n  addr: 127.0.0.1:{port}\n{extra_http}"),
        )
        .expect("write config");
        // It panics at start when AWS_CA_BUNDLE is set.
        let mut cmd = Command::new("docker-registry");
        cmd.arg("serve")
            .arg(&path)
            .env_remove("AWS_CA_BUNDLE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("REGISTRY_") {
                cmd.env_remove(key);
            }
        }
        let mut child = cmd.spawn().expect("start docker-registry");
        let log = Arc::new(Mutex::new(String::new()));
        for pipe in [
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let sink = Arc::clone(&log);
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
                    let mut l = sink.lock().unwrap_or_else(PoisonError::into_inner);
                    l.push_str(&line);
                    l.push('\n');
                }
            });
        }
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let deadline = std::time::Instant::now() + STARTUP_DEADLINE;
        loop {
            if client.get(format!("{base}/v2/")).send().await.is_ok() {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "docker-registry ended ({status}); output:\n{}",
                    log.lock().unwrap_or_else(PoisonError::into_inner)
                );
            }
            assert!(
                std::time::Instant::now() < deadline,
                "docker-registry did not answer within {STARTUP_DEADLINE:?}; output:\n{}",
                log.lock().unwrap_or_else(PoisonError::into_inner)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Registry2 {
            child,
            base,
            log,
            _dir: dir,
        }
    }

    /// Everything it wrote so far (stdout and stderr).
    pub fn log(&self) -> String {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for Registry2 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- docker-registry at {} ---\n{}", self.base, self.log());
        }
    }
}
