//! `s3driver`: a container registry (OCI Distribution API v2) serving from S3,
//! the local file system or memory, configured like `registry:2`.
//!
//! ```text
//! s3driver serve [--config FILE | FILE]   run the registry
//! s3driver check [--config FILE | FILE]   validate the configuration; for S3 storage, check
//!                                         the bucket's permissions against the documented policy
//! s3driver garbage-collect [--dry-run] [--delete-untagged] [--no-writers] [--config FILE | FILE]
//!                                         delete unreferenced blobs (registry:2's garbage-collect)
//! s3driver version                        print the version
//! ```
//!
//! Without a file (and without `REGISTRY_CONFIGURATION_PATH`) the registry
//! listens on `:5000` and stores data under `./data`. `REGISTRY_*` environment
//! variables override configuration keys (`REGISTRY_HTTP_ADDR=:6000`,
//! `REGISTRY_STORAGE_DELETE_ENABLED=true`, ...).
//!
//! # Closed pipes
//! Output to a reader that went away (`s3driver check | head -1`) never panics:
//! - standard output (`help`, `version`, `check`'s report) closed: the command stops at once,
//!   silently, with exit status 141 (128 + SIGPIPE, what a shell reports for a program that
//!   SIGPIPE ended, e.g. `yes | head -1`; `set -o pipefail` scripts see the same as with any
//!   other tool). Other write errors (a full disk) are reported on stderr, status 1;
//! - standard error (warnings, errors, `serve`'s log) closed: the messages are lost and nothing
//!   else changes: commands keep their exit status, and `serve` keeps serving (as systemd
//!   services do when journald restarts; a registry should not go down with its log reader).

use std::fmt;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use s3driver::config::{Config, LogFormat, LogLevel};
use s3driver::server::App;
use tokio::net::TcpListener;

const USAGE: &str = "\
usage: s3driver <command> [options]

commands:
  serve [--config FILE | FILE]   run the registry
  check [--writes] [--config FILE | FILE]
                                 validate the configuration; with S3 storage, also try
                                 every S3 action the driver needs and print what is
                                 missing with the IAM policies (pull part, push part)
                                 that grant it. A read-only registry
                                 (storage.maintenance.readonly.enabled) is checked for
                                 what pulling needs only, writing nothing; --writes
                                 checks the write actions too
  garbage-collect [--dry-run] [--delete-untagged] [--no-writers]
                  [--concurrency N] [--config FILE | FILE]
                                 delete the blobs no manifest references, as
                                 registry:2's garbage-collect does (more below)
  version                        print the version
  help                           print this help

Without a configuration file (and without REGISTRY_CONFIGURATION_PATH) the
registry listens on :5000 and stores data under ./data. REGISTRY_* environment
variables override configuration keys, e.g. REGISTRY_HTTP_ADDR=:6000 or
REGISTRY_STORAGE_DELETE_ENABLED=true.

garbage-collect marks every blob that a manifest revision of a repository uses
(configs, layers, the manifests of an index and what they use) and deletes the
other blobs under blobs/, as registry:2's garbage-collect does.
  -d, --dry-run          delete nothing; print what would be deleted
  -m, --delete-untagged  also delete the manifests no tag points at, except the
                         manifests a kept index lists and the referrers (OCI
                         subject) of kept manifests
  --no-writers           state that no registry writes to this storage while the
                         collection runs (they are stopped)
  --concurrency N        storage requests in flight at once (default 32)
A registry that writes during a collection can lose data: a blob pushed after
the mark phase is deleted even when a manifest put a moment later references
it (registry:2 documents the same race). So garbage-collect refuses to delete
unless the configuration has storage.maintenance.readonly.enabled: true (every
registry on this storage restarted with it) or --no-writers is given; a dry run
needs neither. Output, one record per line, fields separated by one space:
  mark <repository> <digest>          a digest kept (the first repository using it)
  kept <repository> <digest> <why>    an untagged manifest kept (-m): index-child
                                      or referrer
  manifest <repository> <digest> eligible|deleted
  blob <digest> <bytes> eligible|deleted
  link <repository> <digest> eligible|deleted  (a _layers link to a blob not stored)
  total repositories=N marked=N manifests=N blobs=N bytes=N links=N warnings=N dry-run=B
(eligible in a dry run, deleted otherwise). Problems that are skipped are
reported on standard error; a storage error, a link file without a digest or a
manifest that cannot be read stops the run before anything is deleted.

exit status: 0 success; 1 failure (check: something is missing; garbage-collect:
it stopped or refused); 2 bad command line; 141 standard output was closed (e.g.
piped into head).
";

/// Exit status when standard output is a closed pipe (see the module documentation).
const EXIT_CLOSED_PIPE: u8 = 141;

/// Writes command output to stdout. A closed pipe ends the process at once, quietly, with
/// [`EXIT_CLOSED_PIPE`]; any other write error is reported on stderr and ends it with status 1.
fn out(args: fmt::Arguments<'_>) {
    let mut stdout = io::stdout().lock();
    if let Err(e) = stdout.write_fmt(args).and_then(|()| stdout.flush()) {
        if e.kind() == io::ErrorKind::BrokenPipe {
            std::process::exit(EXIT_CLOSED_PIPE.into());
        }
        diag(format_args!(
            "s3driver: cannot write to standard output: {e}\n"
        ));
        std::process::exit(1);
    }
}

/// Writes a message to stderr. If that fails (closed pipe, full disk) the message is lost;
/// the exit status still tells what happened.
fn diag(args: fmt::Arguments<'_>) {
    let mut stderr = io::stderr().lock();
    let _ = stderr.write_fmt(args).and_then(|()| stderr.flush());
}

/// `println!` through [`out`].
macro_rules! outln {
    ($($arg:tt)*) => { out(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `eprintln!` through [`diag`].
macro_rules! errln {
    ($($arg:tt)*) => { diag(format_args!("{}\n", format_args!($($arg)*))) };
}

enum Command {
    Serve(Option<PathBuf>),
    Check(Option<PathBuf>, bool),
    GarbageCollect(Option<PathBuf>, GcFlags),
    Version,
    Help,
}

/// The options of `garbage-collect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct GcFlags {
    dry_run: bool,
    delete_untagged: bool,
    no_writers: bool,
    concurrency: usize,
}

/// Splits the options of `garbage-collect` from its configuration arguments.
fn parse_gc_flags(rest: &[String]) -> Result<(GcFlags, Vec<String>), String> {
    let mut flags = GcFlags {
        dry_run: false,
        delete_untagged: false,
        no_writers: false,
        concurrency: s3driver::server::gc::Options::default().concurrency,
    };
    let mut others = Vec::new();
    let mut args = rest.iter();
    while let Some(a) = args.next() {
        match a.as_str() {
            "-d" | "--dry-run" => flags.dry_run = true,
            "-m" | "--delete-untagged" => flags.delete_untagged = true,
            "--no-writers" => flags.no_writers = true,
            "--concurrency" => {
                let n = args.next().ok_or("--concurrency needs a number")?;
                flags.concurrency = parse_concurrency(n)?;
            }
            a if a.starts_with("--concurrency=") => {
                flags.concurrency = parse_concurrency(&a["--concurrency=".len()..])?;
            }
            _ => others.push(a.clone()),
        }
    }
    Ok((flags, others))
}

fn parse_concurrency(n: &str) -> Result<usize, String> {
    match n.parse::<usize>() {
        Ok(v) if (1..=1024).contains(&v) => Ok(v),
        _ => Err(format!(
            "--concurrency: {n:?} is not a number from 1 to 1024"
        )),
    }
}

fn parse_args(args: &[String]) -> Result<Command, String> {
    let Some((cmd, rest)) = args.split_first() else {
        return Ok(Command::Help);
    };
    let config_path = |rest: &[String]| -> Result<Option<PathBuf>, String> {
        match rest {
            [] => Ok(std::env::var_os("REGISTRY_CONFIGURATION_PATH").map(PathBuf::from)),
            [flag, path] if flag == "--config" || flag == "-c" => Ok(Some(PathBuf::from(path))),
            [arg] if arg.starts_with("--config=") => {
                Ok(Some(PathBuf::from(&arg["--config=".len()..])))
            }
            [path] if !path.starts_with('-') => Ok(Some(PathBuf::from(path))),
            _ => Err(format!("unexpected arguments: {}", rest.join(" "))),
        }
    };
    match cmd.as_str() {
        "serve" => config_path(rest).map(Command::Serve),
        "check" => {
            let writes = rest.iter().any(|a| a == "--writes");
            let rest: Vec<String> = rest.iter().filter(|a| *a != "--writes").cloned().collect();
            config_path(&rest).map(|p| Command::Check(p, writes))
        }
        "garbage-collect" | "gc" => {
            let (flags, rest) = parse_gc_flags(rest)?;
            config_path(&rest).map(|p| Command::GarbageCollect(p, flags))
        }
        "version" | "--version" | "-v" if rest.is_empty() => Ok(Command::Version),
        "help" | "--help" | "-h" => Ok(Command::Help),
        other => Err(format!("unknown command {other:?}")),
    }
}

fn main() -> ExitCode {
    tune_allocator();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match parse_args(&args) {
        Ok(c) => c,
        Err(e) => {
            errln!("s3driver: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match command {
        Command::Help => {
            out(format_args!("{USAGE}"));
            ExitCode::SUCCESS
        }
        Command::Version => {
            outln!("s3driver {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::Check(path, writes) => {
            let config = match load(path.as_deref(), true) {
                Ok(c) => c,
                Err(code) => return code,
            };
            match App::from_config(&config) {
                Ok(_) => {
                    outln!(
                        "configuration OK: storage {}, listening on {}",
                        config.storage.describe(),
                        config.http.addr
                    );
                    if matches!(config.storage.driver.as_str(), "s3" | "s3aws") {
                        check_bucket(&config, writes)
                    } else {
                        ExitCode::SUCCESS
                    }
                }
                Err(e) => {
                    errln!("s3driver: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::GarbageCollect(path, flags) => garbage_collect(path.as_deref(), flags),
        Command::Serve(path) => {
            let config = match load(path.as_deref(), false) {
                Ok(c) => c,
                Err(code) => return code,
            };
            init_logging(&config);
            let runtime = match runtime(true) {
                Ok(r) => r,
                Err(code) => return code,
            };
            match runtime.block_on(run(config)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!("{e}");
                    errln!("s3driver: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// The S3 bucket permission check: probes the actions the registry needs (only what pulling
/// needs for a read-only registry, unless `writes`) and prints the table, plus the policy JSON
/// that grants what is missing. Exit status 1 if anything checked is missing or failed.
fn check_bucket(config: &Config, writes: bool) -> ExitCode {
    let scope = if config.storage.read_only && !writes {
        s3driver::driver::s3::Scope::Pull
    } else {
        s3driver::driver::s3::Scope::Full
    };
    let params = match s3driver::driver::S3Parameters::from_parameters(&config.storage.parameters())
    {
        Ok(p) => p,
        Err(e) => {
            errln!("s3driver: storage.s3.{}: {e}", e.key);
            return ExitCode::FAILURE;
        }
    };
    let runtime = match runtime(false) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let report = runtime.block_on(async {
        let driver = s3driver::driver::S3Driver::new(params)?;
        Ok::<_, s3driver::driver::DriverError>(driver.check_permissions_for(scope).await)
    });
    match report {
        Ok(report) => {
            outln!("\n{report}");
            if report.all_granted() && !report.region_mismatch() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            errln!("s3driver: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `garbage-collect`: refuses unless no registry can be writing, then runs the collection
/// and prints its report (see the usage text).
fn garbage_collect(path: Option<&std::path::Path>, flags: GcFlags) -> ExitCode {
    let config = match load(path, true) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if !flags.dry_run && !config.storage.read_only && !flags.no_writers {
        errln!(
            "s3driver: garbage-collect refuses to delete while registries may write to this storage \
             ({}): a blob pushed during the collection can be deleted although a manifest \
             references it. Put every registry on this storage in read-only mode \
             (storage.maintenance.readonly.enabled: true, in this configuration too) or stop \
             them and pass --no-writers; --dry-run deletes nothing and needs neither.",
            config.storage.describe()
        );
        return ExitCode::FAILURE;
    }
    let runtime = match runtime(true) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let opts = s3driver::server::gc::Options::default()
        .with_dry_run(flags.dry_run)
        .with_delete_untagged(flags.delete_untagged)
        .with_concurrency(flags.concurrency);
    let result = runtime.block_on(async {
        let driver = s3driver::config::build_driver(&config.storage).map_err(|e| {
            s3driver::server::gc::GcError {
                message: e.to_string(),
                report: s3driver::server::gc::Report::default(),
            }
        })?;
        s3driver::server::gc::run(driver.as_ref(), opts).await
    });
    let (report, error) = match result {
        Ok(r) => (r, None),
        Err(e) => (e.report, Some(e.message)),
    };
    for w in &report.warnings {
        errln!("s3driver: warning: {w}");
    }
    for line in report.lines() {
        outln!("{line}");
    }
    match error {
        None => ExitCode::SUCCESS,
        Some(e) => {
            errln!("s3driver: garbage-collect stopped: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Gives glibc's allocator a fixed mmap threshold of 1 MiB, unless `MALLOC_MMAP_THRESHOLD_` is
/// set. By default glibc raises the threshold each time a large block is freed (up to 32 MiB),
/// after which the registry's request-body and part buffers (1-10 MiB) come from per-thread
/// heaps that keep their pages once freed: measured with `benches/registry_vs_registry2.py`
/// (3 rounds on Swift s3api), peak RSS grew from 32 MiB after one round to 69 MiB after three;
/// with the fixed threshold it stays at 39 MiB, at the same CPU time. Blocks of 1 MiB and more
/// are then mapped on demand and returned to the system when freed.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
        const M_MMAP_THRESHOLD_BYTES: libc::c_int = 1 << 20;
        // SAFETY: mallopt only changes glibc's allocation policy and is called before any
        // other thread exists (the runtime starts later); a refusal (0) keeps the default.
        #[allow(unsafe_code)]
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, M_MMAP_THRESHOLD_BYTES);
        }
    }
}

/// The configuration at `path` (or from the environment); a failure is printed and becomes
/// the exit status. With `warn`, its warnings are printed (`serve` logs them instead).
fn load(path: Option<&std::path::Path>, warn: bool) -> Result<Config, ExitCode> {
    let config = Config::load(path).map_err(|e| {
        errln!("s3driver: {e}");
        ExitCode::FAILURE
    })?;
    if warn {
        for w in &config.warnings {
            errln!("s3driver: warning: {w}");
        }
    }
    Ok(config)
}

/// A Tokio runtime (`multi`: the multi-threaded one); a failure is printed and becomes the
/// exit status.
fn runtime(multi: bool) -> Result<tokio::runtime::Runtime, ExitCode> {
    let mut builder = if multi {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    builder.enable_all().build().map_err(|e| {
        errln!("s3driver: cannot start the async runtime: {e}");
        ExitCode::FAILURE
    })
}

fn init_logging(config: &Config) {
    let level = match config.log.level {
        LogLevel::Error => tracing::Level::ERROR,
        LogLevel::Warn => tracing::Level::WARN,
        LogLevel::Info => tracing::Level::INFO,
        LogLevel::Debug => tracing::Level::DEBUG,
        LogLevel::Trace => tracing::Level::TRACE,
    };
    // Log lines that cannot be written (stderr a closed pipe) are dropped without a word:
    // tracing-subscriber would otherwise report the failure with eprintln!, which panics on
    // that same closed stderr.
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .log_internal_errors(false);
    let result = match config.log.format {
        // registry:2's logrus JSON: time, level, msg, log.fields and the request fields.
        LogFormat::Json => builder
            .event_format(s3driver::server::RegistryJson::new(
                config.log.fields.clone(),
            ))
            .try_init(),
        LogFormat::Text => builder.with_ansi(false).try_init(),
    };
    if let Err(e) = result {
        errln!("s3driver: cannot set up logging: {e}");
    }
}

async fn run(config: Config) -> Result<(), String> {
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    let app = App::from_config(&config).map_err(|e| e.to_string())?;
    app.log_access_to_stdout();
    let listener = bind(&config.http.addr).await?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("cannot read the listening address: {e}"))?;
    let (stop_debug, debug_stopped) = tokio::sync::oneshot::channel::<()>();
    if let Some(debug_cfg) = &config.http.debug {
        let debug_listener = bind(&debug_cfg.addr)
            .await
            .map_err(|e| e.replace("http.addr", "http.debug.addr"))?;
        let debug_local = debug_listener
            .local_addr()
            .map_err(|e| format!("cannot read the debug listening address: {e}"))?;
        tracing::info!(
            addr = %debug_local,
            metrics = debug_cfg.prometheus_path.as_deref().unwrap_or(""),
            "debug server ready"
        );
        tokio::spawn(app.clone().serve_debug(debug_listener, async {
            let _ = debug_stopped.await;
        }));
    }
    // Logged last: once this line is out, every listener is up.
    tracing::info!(
        addr = %local,
        tls = app.is_tls(),
        storage = %config.storage.describe(),
        version = env!("CARGO_PKG_VERSION"),
        "listening"
    );
    app.serve(listener, shutdown_signal())
        .await
        .map_err(|e| format!("server error: {e}"))?;
    let _ = stop_debug.send(());
    tracing::info!("stopped");
    Ok(())
}

/// Binds `http.addr` the way Go's `net.Listen("tcp", addr)` reads it: `:5000`
/// is every interface (IPv6 and IPv4 where available).
async fn bind(addr: &str) -> Result<TcpListener, String> {
    let err = |e: std::io::Error| format!("http.addr: cannot listen on {addr:?}: {e}");
    if let Some(port) = addr.strip_prefix(':') {
        let port: u16 = port.parse().map_err(|_| {
            format!("http.addr: {addr:?} is not a valid address; use :5000 or host:port")
        })?;
        let v6 = SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, port));
        return match TcpListener::bind(v6).await {
            Ok(l) => Ok(l),
            Err(_) => TcpListener::bind(SocketAddr::from((std::net::Ipv4Addr::UNSPECIFIED, port)))
                .await
                .map_err(err),
        };
    }
    TcpListener::bind(addr).await.map_err(err)
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
                    _ = term.recv() => tracing::info!("SIGTERM received"),
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops the registry");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("Ctrl-C received");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn parses_the_command_line() {
        assert!(
            matches!(parse_args(&args("serve --config /etc/r.yml")), Ok(Command::Serve(Some(p))) if p.as_os_str() == "/etc/r.yml")
        );
        assert!(matches!(
            parse_args(&args("serve /etc/r.yml")),
            Ok(Command::Serve(Some(_)))
        ));
        assert!(
            matches!(parse_args(&args("serve --config=/x")), Ok(Command::Serve(Some(p))) if p.as_os_str() == "/x")
        );
        assert!(matches!(
            parse_args(&args("check x.yml")),
            Ok(Command::Check(Some(_), false))
        ));
        assert!(matches!(
            parse_args(&args("check --writes --config x.yml")),
            Ok(Command::Check(Some(_), true))
        ));
        assert!(matches!(
            parse_args(&args("check x.yml --writes")),
            Ok(Command::Check(Some(_), true))
        ));
        assert!(matches!(parse_args(&args("version")), Ok(Command::Version)));
        assert!(matches!(parse_args(&[]), Ok(Command::Help)));
        let gc = |s: &str| match parse_args(&args(s)) {
            Ok(Command::GarbageCollect(p, f)) => Ok((p, f)),
            Ok(_) => Err("not garbage-collect".to_owned()),
            Err(e) => Err(e),
        };
        let (p, f) = gc("garbage-collect --dry-run -m --config /x.yml").unwrap();
        assert_eq!(p.unwrap().as_os_str(), "/x.yml");
        assert!(f.dry_run && f.delete_untagged && !f.no_writers);
        assert_eq!(f.concurrency, 32);
        let (p, f) = gc("garbage-collect x.yml --no-writers --concurrency 4").unwrap();
        assert_eq!(p.unwrap().as_os_str(), "x.yml");
        assert!(!f.dry_run && !f.delete_untagged && f.no_writers);
        assert_eq!(f.concurrency, 4);
        assert_eq!(gc("gc -d x.yml --concurrency=7").unwrap().1.concurrency, 7);
        assert!(gc("garbage-collect --concurrency 0 x.yml").is_err());
        assert!(gc("garbage-collect --concurrency").is_err());
        assert!(gc("garbage-collect --nope x.yml").is_err());
        assert!(parse_args(&args("serve --nope")).is_err());
        assert!(parse_args(&args("frobnicate")).is_err());
    }
}
