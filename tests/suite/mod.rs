//! Storage-driver conformance suite: a port of every test of Distribution's
//! `registry/storage/driver/testsuites/testsuites.go`, plus the driver-generic
//! tests of `s3-aws/s3_test.go` (delete tree, walk cases, over 1000 blobs,
//! list/stat/walk on a flat directory).
//!
//! Files: `testsuites.rs` (the Go suite, in file order), `s3_generic.rs` (the
//! S3 tests that any driver can run), this file (configuration, runner macro,
//! random data, shared helpers).
//!
//! Include it from a test file at the crate root and expand the runner:
//!
//! ```ignore
//! mod suite;
//! async fn make() -> suite::Harness { /* build the driver */ }
//! driver_suite!(make);
//! ```
//!
//! Each `test_*` function takes any `&dyn StorageDriver`; the macro expands to
//! one `#[tokio::test]` per function, each on a fresh driver from the
//! constructor, followed by Distribution's `TearDownTest` check that
//! `list("/")` is empty. Every test deletes what it wrote.
//!
//! Sizes follow Go's `-short` mode unless `S3DRIVER_SUITE_FULL=1` is set
//! (concurrent reads 10 MiB instead of 128 MiB, file streams 8 x 8 MiB instead
//! of 32 x 32 MiB). The large-stream test (5 GiB in Go) runs only when
//! `S3DRIVER_LARGE_STREAM_BYTES=<n>` is set.
//!
//! Differences from the Go suite: chunks of the offset and append tests are
//! distinct data (Go reuses one prefix of its random buffer, so its chunks are
//! identical); the mod-time sleeps are configurable (see [`SuiteConfig`]);
//! walk-order expectations come in two flavours ([`WalkOrder`]).
#![allow(dead_code)]

mod s3_generic;
mod testsuites;

pub use s3_generic::*;
pub use testsuites::*;

use std::any::Any;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use s3driver::driver::{DriverError, StorageDriver};
use tokio::io::{AsyncRead, AsyncReadExt};

const MIB: usize = 1024 * 1024;

/// The order a driver's `walk` visits entries in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalkOrder {
    /// `walk_fallback`: depth first, each directory's children sorted by full
    /// path (`/folder1`, `/folder1/file1`, `/folder1-suffix`).
    Sorted,
    /// S3's native walk: the byte order of object keys, directories inferred
    /// before their first file (`/folder1-suffix/...` before `/folder1/...`,
    /// since '-' < '/'). Expectations marked "S3 byte order".
    S3Keys,
}

/// What the suite expects of a driver.
#[derive(Debug, Clone)]
pub struct SuiteConfig {
    /// Expected `name()`, found in every error message.
    pub driver_name: String,
    /// Chunk size of `test_continue_stream_append_large` (Go: 10 MiB).
    pub append_chunk_size: usize,
    /// Size of `test_write_read_large_streams` (Go: 5 GiB); `None` skips it.
    /// Default: `S3DRIVER_LARGE_STREAM_BYTES`.
    pub large_stream_size: Option<u64>,
    /// Go's `testing.Short()` sizes. Default: true unless `S3DRIVER_SUITE_FULL=1`.
    pub short: bool,
    /// Fail the redirect test if the driver serves content itself (`None`).
    pub expect_redirect: bool,
    /// Sleep between the two writes of `test_stat_call` whose mod times must
    /// differ (Go: 10 s). Must exceed the backend's mod-time resolution: S3
    /// keeps whole seconds, so 1.1 s or more; a local file system a few ms.
    pub mod_time_sleep: Duration,
    /// Sleep after the second write of `test_stat_call` (Go: 5 s, for eventually
    /// consistent stores).
    pub consistency_sleep: Duration,
    /// Walk order expectations.
    pub walk_order: WalkOrder,
}

impl SuiteConfig {
    /// Go's settings for `driver_name`, sizes and skips from the environment.
    pub fn new(driver_name: &str) -> Self {
        let large_stream_size = std::env::var("S3DRIVER_LARGE_STREAM_BYTES")
            .ok()
            .and_then(|v| v.trim().parse().ok());
        let full = std::env::var("S3DRIVER_SUITE_FULL").is_ok_and(|v| v == "1" || v == "true");
        Self {
            driver_name: driver_name.to_owned(),
            append_chunk_size: 10 * MIB,
            large_stream_size,
            short: !full,
            expect_redirect: false,
            mod_time_sleep: Duration::from_secs(10),
            consistency_sleep: Duration::from_secs(5),
            walk_order: WalkOrder::Sorted,
        }
    }
}

/// A driver under test, its configuration, and whatever must live as long as it
/// (a temporary directory, a mock server).
pub struct Harness {
    /// The driver, as the registry would hold it.
    pub driver: Arc<dyn StorageDriver>,
    /// What to expect of it.
    pub config: SuiteConfig,
    /// Dropped after the test.
    pub guard: Option<Box<dyn Any + Send>>,
}

impl fmt::Debug for Harness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Harness")
            .field("driver", &self.driver)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Expands to one `#[tokio::test]` per suite test for a constructor
/// `async fn() -> suite::Harness`. The test file must declare `mod suite;` at
/// its crate root.
#[macro_export]
macro_rules! driver_suite {
    ($make:path) => {
        $crate::driver_suite!(@list $make, tests);
    };
    // `make` returns `Option<Harness>`; `None` (server not running) skips the test.
    (optional $make:path) => {
        $crate::driver_suite!(@list $make, optional_tests);
    };
    (@list $make:path, $kind:ident) => {
        $crate::driver_suite!(@$kind $make;
            test_root_exists,
            test_valid_paths,
            test_invalid_paths,
            test_write_read1,
            test_write_read2,
            test_write_read3,
            test_write_read4,
            test_write_read_non_utf8,
            test_truncate,
            test_read_nonexistent,
            test_write_read_streams1,
            test_write_read_streams2,
            test_write_read_streams3,
            test_write_read_streams4,
            test_write_read_streams_non_utf8,
            test_write_read_large_streams,
            test_reader_with_offset,
            test_continue_stream_append_large,
            test_continue_stream_append_small,
            test_read_nonexistent_stream,
            test_write_zero_byte_stream_then_append,
            test_write_zero_byte_content_then_append,
            test_list,
            test_move,
            test_move_overwrite,
            test_move_nonexistent,
            test_move_invalid,
            test_delete,
            test_redirect_url,
            test_delete_nonexistent,
            test_delete_folder,
            test_delete_only_deletes_subpaths,
            test_stat_call,
            test_put_content_multiple_times,
            test_concurrent_stream_reads,
            test_concurrent_file_streams,
            test_delete_tree,
            test_walk,
            test_over_thousand_blobs,
            test_list_objects_v2,
        );
    };
    (@tests $make:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let harness = $make().await;
                $crate::suite::$name(&*harness.driver, &harness.config).await;
                $crate::suite::tear_down(&*harness.driver).await;
            }
        )*
    };
    (@optional_tests $make:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let Some(harness) = $make().await else {
                    return;
                };
                $crate::suite::$name(&*harness.driver, &harness.config).await;
                $crate::suite::tear_down(&*harness.driver).await;
            }
        )*
    };
}

// ---------------------------------------------------------------------------
// Randomness and data

fn seed() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    *SEED.get_or_init(|| {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        nanos ^ (u64::from(std::process::id()) << 32)
    })
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn rand_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    splitmix(seed() ^ COUNTER.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed))
}

/// A random number in `0..n` (`n > 0`).
fn rand_below(n: u64) -> u64 {
    rand_u64() % n
}

/// `length` random bytes; all calls share one buffer, so equal lengths give equal
/// content and shorter results are prefixes of longer ones (Go's `randomContents`).
pub fn random_contents(length: usize) -> Bytes {
    static BUFFER: Mutex<Option<Bytes>> = Mutex::new(None);
    let mut buffer = BUFFER.lock().unwrap_or_else(|e| e.into_inner());
    let have = buffer.as_ref().map_or(0, Bytes::len);
    if have < length {
        let size = length.max(2 * have).max(MIB);
        let mut data = Vec::with_capacity(size + 8);
        let mut state = seed();
        while data.len() < size {
            state = splitmix(state);
            data.extend_from_slice(&state.to_le_bytes());
        }
        data.truncate(size);
        *buffer = Some(Bytes::from(data));
    }
    buffer
        .as_ref()
        .map(|b| b.slice(..length))
        .unwrap_or_default()
}

const FILENAME_CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// Go's `randomFilename`: lowercase letters and digits, with single '-'
/// separators never first or last.
pub fn random_filename(length: usize) -> String {
    let mut name = String::with_capacity(length);
    let mut was_separator = true;
    for i in 0..length {
        if !was_separator && i < length - 1 && rand_below(4) == 0 {
            name.push('-');
            was_separator = true;
        } else {
            name.push(FILENAME_CHARS[rand_below(FILENAME_CHARS.len() as u64) as usize] as char);
            was_separator = false;
        }
    }
    name
}

/// Go's `randomPath`: an absolute path of exactly `length` bytes made of random
/// components.
pub fn random_path(length: usize) -> String {
    let mut path = String::from("/");
    while path.len() < length {
        let chunk_length = rand_below((length - path.len()) as u64) as usize + 1;
        path.push_str(&random_filename(chunk_length));
        let remaining = length.saturating_sub(path.len());
        if remaining == 1 {
            path.push_str(&random_filename(1));
        } else if remaining > 1 {
            path.push('/');
        }
    }
    path
}

// ---------------------------------------------------------------------------
// Helpers

async fn read_all(mut reader: impl AsyncRead + Unpin) -> Vec<u8> {
    let mut out = Vec::new();
    reader.read_to_end(&mut out).await.expect("read stream");
    out
}

/// Writes `data` in 32 KiB pieces, as Go's `io.Copy` does.
async fn write_chunked(w: &mut dyn s3driver::driver::FileWriter, data: &[u8]) -> u64 {
    let mut total = 0;
    for piece in data.chunks(32 * 1024) {
        let n = w.write(piece).await.expect("write");
        assert_eq!(n, piece.len(), "short write");
        total += n as u64;
    }
    total
}

#[track_caller]
fn assert_not_found(err: &DriverError, d: &dyn StorageDriver) {
    assert!(
        matches!(err, DriverError::PathNotFound { .. }),
        "expected PathNotFound, got {err:?}"
    );
    assert!(
        err.to_string().contains(d.name()),
        "error {err} lacks the driver name {}",
        d.name()
    );
}

#[track_caller]
fn assert_invalid_path(err: &DriverError, d: &dyn StorageDriver) {
    assert!(
        matches!(err, DriverError::InvalidPath { .. }),
        "expected InvalidPath, got {err:?}"
    );
    assert!(
        err.to_string().contains(d.name()),
        "error {err} lacks the driver name"
    );
}

/// Go's `deletePath`: delete (a missing path is fine), then make sure nothing
/// is listed below it, retrying once after 2 s.
pub async fn delete_path(d: &dyn StorageDriver, path: &str) {
    for tries in (1..=2).rev() {
        match d.delete(path).await {
            Ok(()) => {}
            Err(e) if e.is_path_not_found() => {}
            Err(e) => panic!("cleanup: delete {path}: {e}"),
        }
        let left = d.list(path).await.unwrap_or_default();
        if left.is_empty() || tries == 1 {
            return;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// Distribution's `TearDownTest`: the test left nothing behind.
pub async fn tear_down(d: &dyn StorageDriver) {
    let files = d.list("/").await.unwrap_or_default();
    assert!(
        files.is_empty(),
        "Storage driver did not clean up properly. Offending files: {files:?}"
    );
}

/// The top-level component of a path with its leading slash (`/a/b` -> `/a`),
/// `"/"` for the root. Distribution's test suite deletes this after each test.
fn first_component(path: &str) -> &str {
    let trimmed = path.trim_start_matches('/');
    match trimmed.find('/') {
        _ if trimmed.is_empty() => "/",
        Some(i) => &path[..path.len() - trimmed.len() + i],
        None => path,
    }
}

#[test]
fn first_component_is_the_top_directory() {
    assert_eq!(first_component("/a/b/c"), "/a");
    assert_eq!(first_component("/a"), "/a");
    assert_eq!(first_component("/"), "/");
    assert_eq!(first_component(""), "/");
}

async fn write_read_compare(d: &dyn StorageDriver, filename: &str, contents: Bytes) {
    d.put_content(filename, contents.clone())
        .await
        .expect("put");
    let read = d.get_content(filename).await.expect("get");
    assert_eq!(read, contents);
    delete_path(d, first_component(filename)).await;
}

async fn write_read_compare_streams(d: &dyn StorageDriver, filename: &str, contents: &[u8]) {
    let mut w = d.writer(filename, false).await.expect("writer");
    let n = write_chunked(&mut *w, contents).await;
    assert_eq!(n, contents.len() as u64);
    w.commit().await.expect("commit");
    w.close().await.expect("close after commit");
    let r = d.reader(filename, 0).await.expect("reader");
    assert_eq!(read_all(r).await, contents);
    delete_path(d, first_component(filename)).await;
}
