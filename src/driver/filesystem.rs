//! The filesystem driver (name `filesystem`): every path is a file under a root
//! directory. A port of Distribution's `filesystem` driver:
//!
//! * parameters `rootdirectory` (default `/var/lib/registry`) and `maxthreads`
//!   (default 100, at least 25: the number of concurrent calls, see
//!   [`Regulator`]);
//! * writers write **in place**: `writer(path, false)` truncates the file at once,
//!   written bytes reach the file on `close`/`commit` (both flush and fsync), and
//!   `writer(path, true)` appends to whatever the file holds, committed or not;
//! * `cancel` removes the file; `move_to` is a `rename` (parent directories are
//!   created); `delete` removes a file or a whole directory tree; directories
//!   emptied by deletes stay.
//!
//! Differences from Distribution, for consistency with the other drivers: a
//! path below a regular file (`ENOTDIR`) is reported as `PathNotFound`, listing
//! a file is `PathNotFound`, `list("/")` succeeds (empty) before the root
//! directory exists, listings are sorted, and `cancel` after `commit` fails with
//! "already committed" instead of deleting the committed file.

use std::io::{ErrorKind, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::fs::{self, File, OpenOptions};
use tokio::io::{AsyncSeekExt, AsyncWriteExt, BufWriter};

use super::lifecycle::Lifecycle;
use super::path::{join_path, parent_path};
#[cfg(doc)]
use super::{Base, Regulator};
use super::{
    BoxedReader, DriverError, FailedDelete, FileInfo, FileWriter, ParameterError, Parameters,
    StorageDriver,
};

const DRIVER_NAME: &str = "filesystem";

/// Default `rootdirectory`.
pub(crate) const DEFAULT_ROOT_DIRECTORY: &str = "/var/lib/registry";
/// Default `maxthreads`.
pub(crate) const DEFAULT_MAX_THREADS: u64 = 100;
/// Smallest accepted `maxthreads`; smaller values are raised to it.
pub(crate) const MIN_THREADS: u64 = 25;

/// Settings of the filesystem driver.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FilesystemParameters {
    /// Directory all paths live under (`rootdirectory`).
    pub root_directory: PathBuf,
    /// Maximum concurrent calls (`maxthreads`).
    pub max_threads: u64,
}

impl Default for FilesystemParameters {
    fn default() -> Self {
        Self {
            root_directory: PathBuf::from(DEFAULT_ROOT_DIRECTORY),
            max_threads: DEFAULT_MAX_THREADS,
        }
    }
}

impl FilesystemParameters {
    /// Parameters with `root_directory` and the default `maxthreads`.
    pub fn new(root_directory: impl Into<PathBuf>) -> Self {
        Self {
            root_directory: root_directory.into(),
            ..Self::default()
        }
    }

    /// Sets `maxthreads`: how many calls the [`Regulator`] lets run at once.
    #[must_use]
    pub fn with_max_threads(mut self, max_threads: u64) -> Self {
        self.max_threads = max_threads;
        self
    }

    /// Reads `rootdirectory` and `maxthreads` (Distribution's `fromParametersImpl`).
    ///
    /// # Errors
    /// `"maxthreads config error: parameter must be an integer, '<v>' invalid"`.
    pub fn from_parameters(params: &Parameters) -> Result<Self, ParameterError> {
        let root_directory =
            PathBuf::from(params.string_or("rootdirectory", DEFAULT_ROOT_DIRECTORY));
        let max_threads = params
            .limit("maxthreads", MIN_THREADS, DEFAULT_MAX_THREADS)
            .map_err(|e| {
                ParameterError::new("maxthreads", format!("maxthreads config error: {e}"))
            })?;
        Ok(Self {
            root_directory,
            max_threads,
        })
    }
}

/// The filesystem storage driver; construct it with [`FilesystemDriver::new`]
/// or [`FilesystemDriver::from_parameters`], and hand it out as the registry does,
/// inside a [`Regulator`] of [`max_threads`](FilesystemDriver::max_threads) and
/// [`Base`]: `Base::new(Regulator::new(driver, max_threads))`.
#[derive(Debug)]
pub struct FilesystemDriver {
    root: PathBuf,
    max_threads: u64,
}

impl FilesystemDriver {
    /// A driver for `params`. The root directory is created by the first write.
    pub fn new(params: FilesystemParameters) -> Self {
        FilesystemDriver {
            root: params.root_directory,
            max_threads: params.max_threads,
        }
    }

    /// A driver configured from the registry's `storage.filesystem` parameters.
    ///
    /// # Errors
    /// An unusable `maxthreads` value.
    pub fn from_parameters(params: &Parameters) -> Result<Self, ParameterError> {
        FilesystemParameters::from_parameters(params).map(Self::new)
    }

    /// The root directory.
    pub fn root_directory(&self) -> &Path {
        &self.root
    }

    /// How many calls may run at once (`maxthreads`): the limit of the [`Regulator`]
    /// to hand the driver out in.
    pub fn max_threads(&self) -> u64 {
        self.max_threads
    }

    fn full_path(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }
}

/// True for the errors that mean "no such path" (including a file used as a
/// directory).
fn is_missing(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory)
}

fn map_missing(path: &str) -> impl FnOnce(std::io::Error) -> DriverError + '_ {
    move |e| {
        if is_missing(&e) {
            DriverError::path_not_found(path)
        } else {
            DriverError::from(e)
        }
    }
}

#[async_trait]
impl StorageDriver for FilesystemDriver {
    fn name(&self) -> &str {
        DRIVER_NAME
    }

    async fn get_content(&self, path: &str) -> Result<Bytes, DriverError> {
        fs::read(self.full_path(path))
            .await
            .map(Bytes::from)
            .map_err(map_missing(path))
    }

    async fn put_content(&self, path: &str, content: Bytes) -> Result<(), DriverError> {
        let mut w = self.writer(path, false).await?;
        if let Err(e) = w.write(&content).await {
            // Report the write error; a failed cleanup is secondary.
            let _ = w.cancel().await;
            return Err(e);
        }
        w.commit().await?;
        w.close().await
    }

    async fn reader(&self, path: &str, offset: u64) -> Result<BoxedReader, DriverError> {
        let mut file = File::open(self.full_path(path))
            .await
            .map_err(map_missing(path))?;
        // Past any file's end (no file system seeks beyond `i64::MAX`, which the seek would
        // take for a negative offset): nothing to read, as past the end of this one.
        if i64::try_from(offset).is_err() {
            return Ok(Box::new(tokio::io::empty()));
        }
        // Seeking past the end is allowed; reads then return EOF at once.
        let pos = file.seek(SeekFrom::Start(offset)).await?;
        if pos < offset {
            return Err(DriverError::invalid_offset(path, offset));
        }
        Ok(Box::new(file))
    }

    async fn writer(&self, path: &str, append: bool) -> Result<Box<dyn FileWriter>, DriverError> {
        let full = self.full_path(path);
        if let Some(parent) = full.parent() {
            fs::create_dir_all(parent).await?;
        }
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&full)
            .await?;
        let size = if append {
            file.seek(SeekFrom::End(0)).await?
        } else {
            file.set_len(0).await?;
            0
        };
        let version = if append {
            Some(version_of(&file.metadata().await?))
        } else {
            None
        };
        Ok(Box::new(FsWriter {
            path: full,
            file: Some(BufWriter::new(file)),
            size,
            life: Lifecycle::default(),
            version,
        }))
    }

    async fn stat(&self, path: &str) -> Result<FileInfo, DriverError> {
        let meta = fs::metadata(self.full_path(path))
            .await
            .map_err(map_missing(path))?;
        let mod_time = meta.modified().ok();
        Ok(if meta.is_dir() {
            FileInfo::dir(path, mod_time)
        } else {
            FileInfo::file(path, meta.len(), mod_time)
        })
    }

    async fn list(&self, path: &str) -> Result<Vec<String>, DriverError> {
        let mut entries = match fs::read_dir(self.full_path(path)).await {
            Ok(entries) => entries,
            // The root always exists, even before the first write created it.
            Err(e) if path == "/" && e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(map_missing(path)(e)),
        };
        let mut children = Vec::new();
        while let Some(entry) = entries.next_entry().await? {
            // Names that are not UTF-8 cannot have been written through a driver.
            if let Ok(name) = entry.file_name().into_string() {
                children.push(join_path(path, &name));
            }
        }
        crate::sort::sort(&mut children);
        Ok(children)
    }

    async fn move_to(&self, src: &str, dst: &str) -> Result<(), DriverError> {
        let source = self.full_path(src);
        let dest = self.full_path(dst);
        fs::symlink_metadata(&source)
            .await
            .map_err(map_missing(src))?;
        fs::create_dir_all(self.full_path(parent_path(dst))).await?;
        fs::rename(&source, &dest).await?;
        Ok(())
    }

    async fn delete(&self, path: &str) -> Result<(), DriverError> {
        let full = self.full_path(path);
        let meta = fs::symlink_metadata(&full)
            .await
            .map_err(map_missing(path))?;
        if meta.is_dir() {
            fs::remove_dir_all(&full).await?;
        } else {
            fs::remove_file(&full).await?;
        }
        Ok(())
    }

    /// Deletes each path as [`delete`](StorageDriver::delete) does, then the directories
    /// that became empty, up to the root directory, so listings afterwards look as on S3
    /// (which has no empty directories).
    async fn delete_files(&self, paths: &[String]) -> Result<Vec<FailedDelete>, DriverError> {
        let mut failed = Vec::new();
        for path in paths {
            if !super::delete_or_record(self, path, &mut failed).await {
                continue;
            }
            let mut dir = parent_path(path);
            // `remove_dir` removes only an empty directory: stop at the first that is not.
            while dir != "/" && fs::remove_dir(self.full_path(dir)).await.is_ok() {
                dir = parent_path(dir);
            }
        }
        Ok(failed)
    }
}

/// A writer on the target file itself (Distribution's filesystem `fileWriter`).
#[derive(Debug)]
struct FsWriter {
    path: PathBuf,
    file: Option<BufWriter<File>>,
    size: u64,
    life: Lifecycle,
    /// See [`FileWriter::version`]: the file's identity, size and modification time, as found
    /// when opened for appending or as left by `close`.
    version: Option<String>,
}

/// A file's version: inode, size and modification time (nanoseconds).
fn version_of(meta: &std::fs::Metadata) -> String {
    #[cfg(unix)]
    let ino = std::os::unix::fs::MetadataExt::ino(meta);
    #[cfg(not(unix))]
    let ino = 0u64;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    format!("{ino}:{}:{mtime}", meta.len())
}

/// Now, with random nanoseconds: file systems update modification times from a coarse clock
/// (milliseconds apart), so two closes of a file within one tick, by this process or another,
/// would otherwise leave equal times.
fn stamp_time() -> SystemTime {
    use crate::client::retry::RandomSource as _;
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let mut rng = crate::client::retry::XorShift64::new(
        crate::client::retry::XorShift64::from_time().next_u64() ^ u64::from(std::process::id()),
    );
    let nanos = u32::try_from(rng.next_u64() % 1_000_000_000).unwrap_or(0);
    SystemTime::UNIX_EPOCH + std::time::Duration::new(now.as_secs(), nanos)
}

impl FsWriter {
    fn file(&mut self) -> Result<&mut BufWriter<File>, DriverError> {
        self.file
            .as_mut()
            .ok_or_else(|| DriverError::msg("already closed"))
    }

    async fn flush_and_sync(&mut self) -> Result<(), DriverError> {
        let file = self.file()?;
        file.flush().await?;
        file.get_mut().sync_all().await?;
        Ok(())
    }
}

#[async_trait]
impl FileWriter for FsWriter {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, DriverError> {
        self.life.check_open()?;
        if !buf.is_empty() {
            self.version = None;
        }
        self.file()?.write_all(buf).await?;
        self.size += buf.len() as u64;
        Ok(buf.len())
    }

    fn version(&self) -> Option<String> {
        if !self.life.holds_upload() {
            return None;
        }
        self.version.clone()
    }

    fn size(&self) -> u64 {
        self.size
    }

    async fn close(&mut self) -> Result<(), DriverError> {
        self.life.close()?;
        if self.file.is_some() {
            self.flush_and_sync().await?;
        }
        if let Some(file) = self.file.take() {
            if self.life.holds_upload() {
                let file = file.into_inner().into_std().await;
                let meta = tokio::task::spawn_blocking(move || {
                    file.set_modified(stamp_time())?;
                    file.metadata()
                })
                .await
                .map_err(|e| DriverError::msg(format!("stamping the file failed: {e}")))??;
                self.version = Some(version_of(&meta));
            }
        }
        Ok(())
    }

    async fn cancel(&mut self) -> Result<(), DriverError> {
        self.life.cancel()?;
        self.file = None;
        match fs::remove_file(&self.path).await {
            Err(e) if e.kind() != ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    async fn commit(&mut self) -> Result<(), DriverError> {
        self.life.check_open()?;
        self.flush_and_sync().await?;
        self.life.commit();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::Base;

    #[test]
    fn parameters_default_and_clamp() {
        let p = FilesystemParameters::from_parameters(&Parameters::new()).unwrap();
        assert_eq!(p, FilesystemParameters::default());
        let p = FilesystemParameters::from_parameters(
            &Parameters::new()
                .with("rootdirectory", "/srv/reg")
                .with("maxthreads", "3"),
        )
        .unwrap();
        assert_eq!(p.root_directory, PathBuf::from("/srv/reg"));
        assert_eq!(p.max_threads, MIN_THREADS);
        let e =
            FilesystemParameters::from_parameters(&Parameters::new().with("maxthreads", "lots"))
                .unwrap_err();
        assert_eq!(
            e.to_string(),
            "maxthreads config error: parameter must be an integer, 'lots' invalid"
        );
        let d =
            FilesystemDriver::from_parameters(&Parameters::new().with("maxthreads", "50")).unwrap();
        assert_eq!(d.max_threads(), 50);
        assert_eq!(d.root_directory(), Path::new(DEFAULT_ROOT_DIRECTORY));
    }

    #[tokio::test]
    async fn writes_in_place_and_appends_to_anything() {
        let dir = tempfile::tempdir().unwrap();
        let d = Base::new(FilesystemDriver::new(FilesystemParameters {
            root_directory: dir.path().to_path_buf(),
            max_threads: 25,
        }));
        let mut w = d.writer("/a/f", false).await.unwrap();
        w.write(b"abc").await.unwrap();
        w.close().await.unwrap();
        // Distribution's filesystem writer is in place: closed content is readable.
        assert_eq!(d.get_content("/a/f").await.unwrap(), "abc");
        let mut w = d.writer("/a/f", true).await.unwrap();
        assert_eq!(w.size(), 3);
        w.write(b"de").await.unwrap();
        w.commit().await.unwrap();
        w.close().await.unwrap();
        assert_eq!(d.get_content("/a/f").await.unwrap(), "abcde");
        let mut w = d.writer("/a/f", true).await.unwrap();
        w.cancel().await.unwrap();
        assert!(d.stat("/a/f").await.unwrap_err().is_path_not_found());
        assert!(d.stat("/a").await.unwrap().is_dir);
    }

    #[tokio::test]
    async fn file_in_the_way_reads_as_missing() {
        let dir = tempfile::tempdir().unwrap();
        let d = Base::new(FilesystemDriver::new(FilesystemParameters {
            root_directory: dir.path().join("root"),
            max_threads: 25,
        }));
        assert!(d.list("/").await.unwrap().is_empty());
        assert!(d.stat("/").await.unwrap_err().is_path_not_found());
        d.put_content("/notadir", Bytes::from_static(b"x"))
            .await
            .unwrap();
        assert!(d
            .stat("/notadir/foo")
            .await
            .unwrap_err()
            .is_path_not_found());
        assert!(d.list("/notadir").await.unwrap_err().is_path_not_found());
        let e = d.move_to("/notadir/foo", "/notadir/bar").await.unwrap_err();
        assert!(e.is_path_not_found());
        assert!(d.put_content("/notadir/foo", Bytes::new()).await.is_err());
    }
}
