//! [`FileInfo`]: what `Stat` and `Walk` report about a path.

use std::time::SystemTime;

/// Metadata of a file or directory (Distribution's `FileInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// The path as the caller names it (absolute, e.g. `/a/b`).
    pub path: String,
    /// Size in bytes; always 0 for directories.
    pub size: u64,
    /// Last modification time, if the backend knows it (directories need not).
    pub mod_time: Option<SystemTime>,
    /// True for directories (on S3: a common key prefix).
    pub is_dir: bool,
}

impl FileInfo {
    /// A regular file.
    pub fn file(path: impl Into<String>, size: u64, mod_time: Option<SystemTime>) -> Self {
        Self {
            path: path.into(),
            size,
            mod_time,
            is_dir: false,
        }
    }

    /// A directory (size 0).
    pub fn dir(path: impl Into<String>, mod_time: Option<SystemTime>) -> Self {
        Self {
            path: path.into(),
            size: 0,
            mod_time,
            is_dir: true,
        }
    }
}
