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
    /// Everything the process wrote to stderr so far (read by a thread, so the
    /// pipe never fills).
    log: Arc<Mutex<String>>,
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
            .stdout(Stdio::null())
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
        std::thread::spawn(move || {
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
                if !line.contains("listening") {
                    continue;
                }
                if let Some(addr) = line
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("addr="))
                {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(addr.to_owned());
                    }
                }
            }
        });
        let mut process = ServeProcess {
            child,
            base: String::new(),
            log,
        };
        match tokio::time::timeout(STARTUP_DEADLINE, rx).await {
            Ok(Ok(addr)) => process.base = format!("http://{addr}"),
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
