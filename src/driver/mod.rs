//! The registry storage-driver contract and its drivers.
//!
//! [`StorageDriver`] is CNCF Distribution's `storagedriver.StorageDriver` as an
//! object-safe async trait, so a driver can be shared as `Arc<dyn StorageDriver>`
//! and wrapped by middleware. Semantics follow Distribution exactly:
//!
//! * Paths are absolute, `/`-separated, components in `[A-Za-z0-9._-]`
//!   ([`is_valid_path`]); `stat`, `list` and `walk` also accept `"/"`.
//! * Every error is a [`DriverError`] whose message starts with the driver's name.
//! * A [`FileWriter`]'s content becomes readable only after
//!   [`commit`](FileWriter::commit); [`close`](FileWriter::close) without commit
//!   keeps it so that `writer(path, append = true)` can resume it. A path may be
//!   appended to if it has not been committed, or if its committed content is
//!   empty.
//!
//! The constructors return the driver itself; hand it out inside [`Base`]
//! (`Base::new(driver)`, as the registry does), which validates paths and offsets
//! before the driver runs and stamps the driver's name into every error
//! (Distribution's `base.Base`). The filesystem driver goes inside a [`Regulator`]
//! of its `maxthreads` first.
//!
//! # Drivers
//!
//! | driver | name | notes |
//! |---|---|---|
//! | [`InMemoryDriver`] | `inmemory` | a tree in a mutex; writers buffer until commit |
//! | [`FilesystemDriver`] | `filesystem` | files under a root directory, writes in place |
//! | [`S3Driver`] | `s3aws` | S3 and S3-compatible services, on [`crate::client`] |
//!
//! # Naming
//!
//! Distribution's `Move` is [`StorageDriver::move_to`] (`move` is a Rust keyword;
//! "rename" would promise an atomicity S3's copy + delete does not have).
//!
//! # Layout
//!
//! | file | what |
//! |---|---|
//! | `error.rs` | [`DriverError`] |
//! | `path.rs` | path validation and helpers |
//! | `fileinfo.rs` | [`FileInfo`] |
//! | `redirect.rs` | [`RedirectRequest`] |
//! | `walk.rs` | [`WalkControl`], [`WalkOptions`], the default walk (`list` and `stat`) |
//! | `base.rs` | [`Base`]: validation and error stamping |
//! | `regulator.rs` | [`Regulator`]: caps concurrent calls (filesystem's `maxthreads`) |
//! | `parameters.rs` | [`Parameters`]: typed access to a driver's configuration map |
//! | `inmemory.rs` | [`InMemoryDriver`] |
//! | `filesystem.rs` | [`FilesystemDriver`] |
//! | `s3/` | [`S3Driver`]: parameters, operations, resumable multipart writer |

mod base;
mod error;
#[cfg(test)]
pub(crate) mod fake;
mod fileinfo;
mod filesystem;
mod inmemory;
mod lifecycle;
pub(crate) mod parameters;
mod path;
mod redirect;
mod regulator;
pub mod s3;
mod walk;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::io::AsyncRead;

pub use base::Base;
pub use error::{Busy, DriverError};
pub use fileinfo::FileInfo;
pub use filesystem::{FilesystemDriver, FilesystemParameters};
pub use inmemory::InMemoryDriver;
pub use parameters::{ParameterError, Parameters};
pub use path::is_valid_path;
pub(crate) use path::{is_subpath, parent_path};
pub use redirect::RedirectRequest;
pub use regulator::Regulator;
pub use s3::{S3Driver, S3Parameters};
pub(crate) use walk::walk_fallback;
pub use walk::{WalkControl, WalkFn, WalkOptions};

/// The reader returned by [`StorageDriver::reader`]; dropping it closes it.
pub type BoxedReader = Box<dyn AsyncRead + Send + Unpin>;

/// A filesystem-like key/value store for registry data (Distribution's
/// `storagedriver.StorageDriver`).
///
/// Implementations are wrapped in [`Base`] before use; `Base` rejects invalid
/// paths, so drivers may assume valid input. Offsets and sizes are `u64`: a
/// negative offset (which Distribution's `int64` had to reject at run time) cannot
/// be expressed.
#[async_trait]
pub trait StorageDriver: Send + Sync + std::fmt::Debug {
    /// The driver's registration name (`"s3aws"`, `"filesystem"`, `"inmemory"`);
    /// it prefixes every error message.
    fn name(&self) -> &str;

    /// The whole content at `path`; meant for small objects.
    ///
    /// # Errors
    /// [`DriverError::PathNotFound`] if nothing is stored at `path`.
    async fn get_content(&self, path: &str) -> Result<Bytes, DriverError>;

    /// Stores `content` at `path`, replacing (and truncating) what was there.
    async fn put_content(&self, path: &str, content: Bytes) -> Result<(), DriverError>;

    /// A reader of the content at `path` starting at byte `offset`. An offset at
    /// or past the end gives a reader that is immediately at EOF.
    ///
    /// # Errors
    /// [`DriverError::PathNotFound`] if nothing is stored at `path` (whatever the
    /// offset).
    async fn reader(&self, path: &str, offset: u64) -> Result<BoxedReader, DriverError>;

    /// A writer for `path`. With `append = false` the writer starts empty; with
    /// `append = true` it resumes content written by an earlier writer that was
    /// closed but not committed ([`FileWriter::size`] then reports what is already
    /// there), or appends to committed content of length zero.
    ///
    /// With `append = true` and nothing stored at `path`, drivers differ: S3's and the
    /// in-memory one fail with [`DriverError::PathNotFound`] (see
    /// [`append_needs_existing`](Self::append_needs_existing)); the filesystem's starts an
    /// empty file there, as Distribution's does.
    ///
    /// # Errors
    /// With `append = true`: [`DriverError::PathNotFound`] if there is nothing to
    /// resume, on the drivers above; appending to non-empty committed content is not
    /// supported by every driver (S3 returns an error).
    async fn writer(&self, path: &str, append: bool) -> Result<Box<dyn FileWriter>, DriverError>;

    /// Metadata of the file or directory at `path`. `stat("/")` may succeed or
    /// return `PathNotFound` (the registry health check tolerates both).
    ///
    /// # Errors
    /// [`DriverError::PathNotFound`] if `path` is neither a file nor a directory.
    async fn stat(&self, path: &str) -> Result<FileInfo, DriverError>;

    /// The file at `path`, `None` when there is no file (nothing, or a directory): [`stat`]
    /// for callers to whom a directory means nothing, which lets a driver skip telling the
    /// two apart (the S3 driver answers with one HEAD instead of a HEAD and a listing).
    ///
    /// # Errors
    /// A storage failure.
    ///
    /// [`stat`]: StorageDriver::stat
    async fn stat_file(&self, path: &str) -> Result<Option<FileInfo>, DriverError> {
        file_of(self.stat(path).await)
    }

    /// The direct children (files and directories) of directory `path`, as
    /// absolute paths. `list("/")` always succeeds, possibly empty.
    ///
    /// # Errors
    /// [`DriverError::PathNotFound`] if `path` is not an existing directory.
    async fn list(&self, path: &str) -> Result<Vec<String>, DriverError>;

    /// Moves the object at `src` to `dst`, replacing `dst`; `src` no longer
    /// exists afterwards (Distribution's `Move`).
    ///
    /// # Errors
    /// [`DriverError::PathNotFound`] if `src` does not exist (then `dst` is left
    /// untouched).
    async fn move_to(&self, src: &str, dst: &str) -> Result<(), DriverError>;

    /// Deletes `path` and everything below it. Deleting `/a` never touches `/ab`.
    ///
    /// # Errors
    /// [`DriverError::PathNotFound`] if nothing exists at or below `path`.
    async fn delete(&self, path: &str) -> Result<(), DriverError>;

    /// Deletes the files at `paths` (exact paths of files, as [`list`](Self::list) and
    /// [`walk`](Self::walk) report them), many per request where the backend can: S3 sends
    /// one DeleteObjects request per 1000 paths. A path with nothing stored at it counts as
    /// deleted; directories left empty stay (S3 has none). The garbage collector sweeps with
    /// it. The default deletes the paths one at a time with [`delete`](Self::delete) (so a
    /// directory given here goes with everything below it).
    ///
    /// Returns the paths the backend refused, with its reason.
    ///
    /// # Errors
    /// A request failed as a whole: then any of the paths may or may not be deleted.
    async fn delete_files(&self, paths: &[String]) -> Result<Vec<FailedDelete>, DriverError> {
        let mut failed = Vec::new();
        for path in paths {
            delete_or_record(self, path, &mut failed).await;
        }
        Ok(failed)
    }

    /// A URL the client may fetch `path` from directly (answered with a 307 by the
    /// registry); `Ok(None)` means "no redirect, serve the content yourself", which is
    /// what drivers without redirects (the default) answer.
    async fn redirect_url(
        &self,
        req: &RedirectRequest,
        path: &str,
    ) -> Result<Option<String>, DriverError> {
        let _ = (req, path);
        Ok(None)
    }

    /// Calls `f` for every file and directory below `path` (not `path` itself)
    /// until the tree is exhausted or `f` asks to stop; see [`WalkControl`] and
    /// [`WalkOptions`]. The default walks with `list` and `stat`, directory
    /// by directory; drivers with a native walk override it.
    ///
    /// # Errors
    /// [`DriverError::PathNotFound`] if `path` does not exist; any error `f`
    /// returns.
    async fn walk(
        &self,
        path: &str,
        f: &mut WalkFn<'_>,
        opts: WalkOptions,
    ) -> Result<(), DriverError> {
        walk_fallback(self, path, f, &opts).await
    }

    /// The S3 key (bucket-relative, root directory included, no leading `/`) that
    /// stores `path`, for drivers backed by S3; `None` otherwise. This is
    /// Distribution's `S3BucketKeyer` interface, which the CloudFront middleware
    /// needs; wrappers forward it.
    fn s3_bucket_key(&self, path: &str) -> Option<String> {
        let _ = path;
        None
    }

    /// Whether [`writer`](Self::writer) with `append = true` fails with
    /// [`DriverError::PathNotFound`] when nothing is stored at the path, rather than
    /// starting an empty file there. The registry then lets an upload state signed by its
    /// `http.secret` stand in for reading the upload's `startedat`: the writer still tells
    /// a cancelled upload from a live one. `false` (the cautious answer) unless the driver
    /// says otherwise; wrappers forward it.
    fn append_needs_existing(&self) -> bool {
        false
    }

    /// Request counters of the client the driver talks to its backend with (S3: attempts,
    /// retries, errors by code), for metrics; `None` for drivers without one. Wrappers
    /// forward it.
    fn client_stats(&self) -> Option<crate::client::ClientStats> {
        None
    }

    /// Removes what interrupted writes below `path` left in the backend outside
    /// the driver's paths, if started before `older_than`: for S3, the
    /// multipart uploads that no writer completed or cancelled (a crashed
    /// process, a failed copy), which hold data and cost money but no listing
    /// shows. With `dry_run` only reports them. Other drivers have none. This
    /// is what the registry's upload purger calls besides removing
    /// `_uploads/` directories.
    ///
    /// # Errors
    /// The backend cannot list them; failures to remove single ones are
    /// reported in [`IncompleteWrites::errors`].
    async fn purge_incomplete_writes(
        &self,
        path: &str,
        older_than: std::time::SystemTime,
        dry_run: bool,
    ) -> Result<IncompleteWrites, DriverError> {
        let _ = (path, older_than, dry_run);
        Ok(IncompleteWrites::default())
    }
}

/// What [`StorageDriver::purge_incomplete_writes`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct IncompleteWrites {
    /// The paths whose incomplete writes were removed (or, in a dry run, would
    /// have been), one entry per write (e.g. per S3 multipart upload).
    pub removed: Vec<String>,
    /// Removals that failed, with the reason.
    pub errors: Vec<String>,
}

/// A path [`StorageDriver::delete_files`] could not delete.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FailedDelete {
    /// The path.
    pub path: String,
    /// Why, as the backend said it (S3: the error code and message).
    pub reason: String,
}

impl FailedDelete {
    /// A failure to delete `path`.
    pub fn new(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

/// An open writable object (Distribution's `storagedriver.FileWriter`).
///
/// Lifecycle: any number of [`write`](Self::write)s, then either
/// [`commit`](Self::commit) (content becomes readable) followed by
/// [`close`](Self::close), or [`close`](Self::close) alone (content is kept for a
/// later `writer(path, append = true)` but not readable), or
/// [`cancel`](Self::cancel) (content is dropped). Calls after close, commit or
/// cancel fail with "already closed" / "already committed" / "already cancelled"
/// (except `close` after `commit`, which succeeds).
#[async_trait]
pub trait FileWriter: Send + std::fmt::Debug {
    /// Writes all of `buf`; returns `buf.len()` on success.
    async fn write(&mut self, buf: &[u8]) -> Result<usize, DriverError>;

    /// Bytes written so far, including what an appending writer resumed.
    fn size(&self) -> u64;

    /// Flushes everything written so far so that an appending writer can resume
    /// it; does not make it readable.
    async fn close(&mut self) -> Result<(), DriverError>;

    /// Drops the written content.
    async fn cancel(&mut self) -> Result<(), DriverError>;

    /// Flushes everything and makes it readable at the writer's path.
    async fn commit(&mut self) -> Result<(), DriverError>;

    /// An identifier of the stored, uncommitted content as this writer found it when it was
    /// opened for appending, or as it left it after [`close`](Self::close): two equal values
    /// mean the same stored bytes, whichever writer or process stored them. The registry
    /// uses it to prove that a hash state it kept belongs to exactly the bytes in storage.
    ///
    /// `None` when the writer cannot tell (the default; also while data is buffered or after a
    /// failed call): callers must then re-read the content to learn what it is.
    fn version(&self) -> Option<String> {
        None
    }
}

/// A [`StorageDriver::stat`] answer as [`StorageDriver::stat_file`]'s.
pub(crate) fn file_of(
    stat: Result<FileInfo, DriverError>,
) -> Result<Option<FileInfo>, DriverError> {
    match stat {
        Ok(fi) if fi.is_dir => Ok(None),
        Ok(fi) => Ok(Some(fi)),
        Err(e) if e.is_path_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Deletes `path` with [`StorageDriver::delete`] for `delete_files`: a path with nothing
/// stored counts as deleted, another error is recorded in `failed`. True unless refused.
pub(crate) async fn delete_or_record<D: StorageDriver + ?Sized>(
    driver: &D,
    path: &str,
    failed: &mut Vec<FailedDelete>,
) -> bool {
    match driver.delete(path).await {
        Err(e) if !e.is_path_not_found() => {
            failed.push(FailedDelete::new(path.to_owned(), e.to_string()));
            false
        }
        _ => true,
    }
}
