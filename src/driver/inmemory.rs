//! The in-memory driver (name `inmemory`): a directory tree in a mutex, for tests
//! and small deployments. Nothing survives the process.
//!
//! It follows the contract the way S3 does rather than the way Distribution's
//! own in-memory driver does (which writes in place):
//! * writers buffer; content becomes visible at `commit`;
//! * `close` without `commit` keeps the content as a pending upload for the
//!   path, which `writer(path, append = true)` resumes (one pending upload per
//!   path; a later `close` replaces it, `commit` or `cancel` drops it);
//! * appending to committed content starts from that content (the S3 driver
//!   continues a multipart upload from the committed object the same way);
//! * `cancel` drops the writer's content and leaves committed content alone.
//!
//! Directories are real tree nodes: they are created by writes and stay (empty)
//! when their files are deleted, like on a file system.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::Cursor;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;

use super::lifecycle::Lifecycle;
use super::path::{is_subpath, join_path, parent_path};
#[cfg(doc)]
use super::Base;
use super::{BoxedReader, DriverError, FailedDelete, FileInfo, FileWriter, StorageDriver};

const DRIVER_NAME: &str = "inmemory";

/// The in-memory storage driver; construct it with [`InMemoryDriver::new`].
pub struct InMemoryDriver {
    state: Arc<Mutex<State>>,
}

impl fmt::Debug for InMemoryDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InMemoryDriver").finish_non_exhaustive()
    }
}

impl Default for InMemoryDriver {
    fn default() -> Self {
        Self::new()
    }
}

impl InMemoryDriver {
    /// A new, empty in-memory driver (hand it out inside [`Base`]).
    pub fn new() -> Self {
        InMemoryDriver {
            state: Arc::new(Mutex::new(State {
                root: Node::Dir(Dir::new(SystemTime::now())),
                uploads: HashMap::new(),
                generation: 0,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // A panic while holding the lock cannot leave the tree half-updated in a way
    // that matters more than losing the driver, so keep serving.
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Debug)]
enum Node {
    File { data: Bytes, mod_time: SystemTime },
    Dir(Dir),
}

#[derive(Debug)]
struct Dir {
    children: BTreeMap<String, Node>,
    mod_time: SystemTime,
}

impl Dir {
    fn new(mod_time: SystemTime) -> Self {
        Self {
            children: BTreeMap::new(),
            mod_time,
        }
    }
}

#[derive(Debug)]
struct State {
    root: Node,
    /// Content of writers closed without commit, by path, with the generation of the close
    /// that stored it (a writer's [`version`](FileWriter::version)).
    uploads: HashMap<String, (Vec<u8>, u64)>,
    /// The last generation handed out.
    generation: u64,
}

fn components(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|c| !c.is_empty())
}

/// The last component of a valid, non-root path.
fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

impl State {
    fn find(&self, path: &str) -> Option<&Node> {
        let mut node = &self.root;
        for c in components(path) {
            match node {
                Node::Dir(d) => node = d.children.get(c)?,
                Node::File { .. } => return None,
            }
        }
        Some(node)
    }

    /// The directory `path`, created with its ancestors if missing.
    fn mkdirs(&mut self, path: &str, now: SystemTime) -> Result<&mut Dir, DriverError> {
        let mut walked = String::new();
        let Node::Dir(root) = &mut self.root else {
            return Err(DriverError::msg("root is not a directory"));
        };
        let mut dir: &mut Dir = root;
        for c in components(path) {
            walked.push('/');
            walked.push_str(c);
            let exists = dir.children.contains_key(c);
            if !exists {
                dir.mod_time = now;
            }
            let child = dir
                .children
                .entry(c.to_owned())
                .or_insert_with(|| Node::Dir(Dir::new(now)));
            match child {
                Node::Dir(d) => dir = d,
                Node::File { .. } => {
                    return Err(DriverError::msg(format!(
                        "{walked} is a file, not a directory"
                    )))
                }
            }
        }
        Ok(dir)
    }

    /// True if `path` could be created as a file: no ancestor is a file and
    /// `path` is not a directory.
    fn can_create_file(&self, path: &str) -> Result<(), DriverError> {
        let mut node = &self.root;
        let mut walked = String::new();
        for c in components(path) {
            match node {
                Node::Dir(d) => match d.children.get(c) {
                    Some(n) => node = n,
                    None => return Ok(()),
                },
                Node::File { .. } => {
                    return Err(DriverError::msg(format!(
                        "{walked} is a file, not a directory"
                    )))
                }
            }
            walked.push('/');
            walked.push_str(c);
        }
        match node {
            Node::Dir(_) => Err(DriverError::msg(format!("{path} is a directory"))),
            Node::File { .. } => Ok(()),
        }
    }

    fn put(&mut self, path: &str, node: Node, now: SystemTime) -> Result<(), DriverError> {
        let dir = self.mkdirs(parent_path(path), now)?;
        let name = file_name(path);
        if matches!(node, Node::File { .. }) && matches!(dir.children.get(name), Some(Node::Dir(_)))
        {
            return Err(DriverError::msg(format!("{path} is a directory")));
        }
        dir.children.insert(name.to_owned(), node);
        dir.mod_time = now;
        Ok(())
    }

    fn remove(&mut self, path: &str, now: SystemTime) -> Option<Node> {
        let parent = parent_path(path);
        let mut node = &mut self.root;
        for c in components(parent) {
            match node {
                Node::Dir(d) => node = d.children.get_mut(c)?,
                Node::File { .. } => return None,
            }
        }
        match node {
            Node::Dir(d) => {
                let removed = d.children.remove(file_name(path))?;
                d.mod_time = now;
                Some(removed)
            }
            Node::File { .. } => None,
        }
    }
}

#[async_trait]
impl StorageDriver for InMemoryDriver {
    fn name(&self) -> &str {
        DRIVER_NAME
    }

    fn append_needs_existing(&self) -> bool {
        true
    }

    async fn get_content(&self, path: &str) -> Result<Bytes, DriverError> {
        match self.lock().find(path) {
            Some(Node::File { data, .. }) => Ok(data.clone()),
            Some(Node::Dir(_)) => Err(DriverError::msg(format!("{path} is a directory"))),
            None => Err(DriverError::path_not_found(path)),
        }
    }

    async fn put_content(&self, path: &str, content: Bytes) -> Result<(), DriverError> {
        let now = SystemTime::now();
        self.lock().put(
            path,
            Node::File {
                data: content,
                mod_time: now,
            },
            now,
        )
    }

    async fn reader(&self, path: &str, offset: u64) -> Result<BoxedReader, DriverError> {
        let data = self.get_content(path).await?;
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(data.len());
        Ok(Box::new(Cursor::new(data.slice(start..))))
    }

    async fn writer(&self, path: &str, append: bool) -> Result<Box<dyn FileWriter>, DriverError> {
        let state = self.lock();
        let mut version = None;
        let resumed = match state.find(path) {
            Some(Node::Dir(_)) => return Err(DriverError::msg(format!("{path} is a directory"))),
            _ if !append => Vec::new(),
            _ if state.uploads.contains_key(path) => {
                let (content, generation) = &state.uploads[path];
                version = Some(*generation);
                content.clone()
            }
            Some(Node::File { data, .. }) => data.to_vec(),
            None => return Err(DriverError::path_not_found(path)),
        };
        drop(state);
        Ok(Box::new(MemWriter {
            state: Arc::clone(&self.state),
            path: path.to_owned(),
            size: resumed.len() as u64,
            buf: resumed,
            life: Lifecycle::default(),
            version,
        }))
    }

    async fn stat(&self, path: &str) -> Result<FileInfo, DriverError> {
        match self.lock().find(path) {
            Some(Node::File { data, mod_time }) => {
                Ok(FileInfo::file(path, data.len() as u64, Some(*mod_time)))
            }
            Some(Node::Dir(d)) => Ok(FileInfo::dir(path, Some(d.mod_time))),
            None => Err(DriverError::path_not_found(path)),
        }
    }

    async fn list(&self, path: &str) -> Result<Vec<String>, DriverError> {
        match self.lock().find(path) {
            Some(Node::Dir(d)) => Ok(d
                .children
                .keys()
                .map(|name| join_path(path, name))
                .collect()),
            // A file has no children: like S3, listing it finds nothing.
            Some(Node::File { .. }) | None => Err(DriverError::path_not_found(path)),
        }
    }

    async fn move_to(&self, src: &str, dst: &str) -> Result<(), DriverError> {
        let now = SystemTime::now();
        let mut state = self.lock();
        let Some(node) = state.find(src) else {
            return Err(DriverError::path_not_found(src));
        };
        if src == dst {
            return Ok(());
        }
        if matches!(node, Node::Dir(_)) && is_subpath(dst, src) {
            return Err(DriverError::msg(format!(
                "cannot move {src} into itself ({dst})"
            )));
        }
        state.can_create_file(dst)?;
        let node = state
            .remove(src, now)
            .ok_or_else(|| DriverError::path_not_found(src))?;
        state.put(dst, node, now)
    }

    async fn delete(&self, path: &str) -> Result<(), DriverError> {
        self.lock()
            .remove(path, SystemTime::now())
            .map(drop)
            .ok_or_else(|| DriverError::path_not_found(path))
    }

    /// Deletes each path as [`delete`](StorageDriver::delete) does, then the directories
    /// that became empty, so listings afterwards look as on S3 (which has no empty
    /// directories).
    async fn delete_files(&self, paths: &[String]) -> Result<Vec<FailedDelete>, DriverError> {
        let now = SystemTime::now();
        let mut state = self.lock();
        for path in paths {
            state.remove(path, now);
            let mut dir = parent_path(path);
            while dir != "/" {
                let empty = matches!(state.find(dir), Some(Node::Dir(d)) if d.children.is_empty());
                if !empty {
                    break;
                }
                state.remove(dir, now);
                dir = parent_path(dir);
            }
        }
        Ok(Vec::new())
    }
}

/// A buffering writer; see the module documentation for its semantics.
struct MemWriter {
    state: Arc<Mutex<State>>,
    path: String,
    buf: Vec<u8>,
    size: u64,
    life: Lifecycle,
    /// The generation of the stored upload this writer resumed or last closed.
    version: Option<u64>,
}

impl fmt::Debug for MemWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemWriter")
            .field("path", &self.path)
            .field("size", &self.size)
            .field("life", &self.life)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl FileWriter for MemWriter {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, DriverError> {
        self.life.check_open()?;
        self.buf.extend_from_slice(buf);
        self.size += buf.len() as u64;
        if !buf.is_empty() {
            self.version = None;
        }
        Ok(buf.len())
    }

    fn version(&self) -> Option<String> {
        if !self.life.holds_upload() {
            return None;
        }
        self.version.map(|g| format!("generation {g}"))
    }

    fn size(&self) -> u64 {
        self.size
    }

    async fn close(&mut self) -> Result<(), DriverError> {
        self.life.close()?;
        if self.life.holds_upload() {
            let content = std::mem::take(&mut self.buf);
            let mut state = lock(&self.state);
            state.generation += 1;
            let generation = state.generation;
            state
                .uploads
                .insert(self.path.clone(), (content, generation));
            self.version = Some(generation);
        }
        Ok(())
    }

    async fn cancel(&mut self) -> Result<(), DriverError> {
        self.life.cancel()?;
        self.buf = Vec::new();
        lock(&self.state).uploads.remove(&self.path);
        Ok(())
    }

    async fn commit(&mut self) -> Result<(), DriverError> {
        self.life.check_open()?;
        let now = SystemTime::now();
        let data = Bytes::from(std::mem::take(&mut self.buf));
        let mut state = lock(&self.state);
        state.put(
            &self.path,
            Node::File {
                data,
                mod_time: now,
            },
            now,
        )?;
        state.uploads.remove(&self.path);
        self.life.commit();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::*;

    #[tokio::test]
    async fn writer_content_is_visible_only_after_commit() {
        let d = crate::driver::Base::new(InMemoryDriver::new());
        let mut w = d.writer("/a/b", false).await.unwrap();
        w.write(b"hello").await.unwrap();
        assert!(d.get_content("/a/b").await.unwrap_err().is_path_not_found());
        w.commit().await.unwrap();
        w.close().await.unwrap();
        assert_eq!(d.get_content("/a/b").await.unwrap(), "hello");
        assert_eq!(
            w.write(b"x").await.unwrap_err().to_string(),
            "inmemory: already closed"
        );
    }

    #[tokio::test]
    async fn closed_writer_is_resumed_by_append() {
        let d = crate::driver::Base::new(InMemoryDriver::new());
        let mut w = d.writer("/up", false).await.unwrap();
        w.write(b"abc").await.unwrap();
        w.close().await.unwrap();
        assert_eq!(w.size(), 3);
        let mut w = d.writer("/up", true).await.unwrap();
        assert_eq!(w.size(), 3);
        w.write(b"def").await.unwrap();
        w.commit().await.unwrap();
        assert_eq!(d.get_content("/up").await.unwrap(), "abcdef");
        // The pending upload was consumed by the commit; appending again starts from the
        // committed content.
        let mut w = d.writer("/up", true).await.unwrap();
        assert_eq!(w.size(), 6);
        w.write(b"g").await.unwrap();
        w.commit().await.unwrap();
        assert_eq!(d.get_content("/up").await.unwrap(), "abcdefg");
    }

    #[tokio::test]
    async fn append_rules() {
        let d = crate::driver::Base::new(InMemoryDriver::new());
        assert!(d
            .writer("/none", true)
            .await
            .unwrap_err()
            .is_path_not_found());
        d.put_content("/empty", Bytes::new()).await.unwrap();
        let mut w = d.writer("/empty", true).await.unwrap();
        assert_eq!(w.size(), 0);
        w.write(b"z").await.unwrap();
        w.commit().await.unwrap();
        assert_eq!(d.get_content("/empty").await.unwrap(), "z");
    }

    #[tokio::test]
    async fn cancel_keeps_committed_content() {
        let d = crate::driver::Base::new(InMemoryDriver::new());
        d.put_content("/f", Bytes::from_static(b"old"))
            .await
            .unwrap();
        let mut w = d.writer("/f", false).await.unwrap();
        w.write(b"new").await.unwrap();
        w.cancel().await.unwrap();
        assert!(w.commit().await.is_err());
        assert_eq!(d.get_content("/f").await.unwrap(), "old");
    }

    #[tokio::test]
    async fn files_and_directories_do_not_mix() {
        let d = crate::driver::Base::new(InMemoryDriver::new());
        d.put_content("/notadir", Bytes::from_static(b"x"))
            .await
            .unwrap();
        assert!(d.put_content("/notadir/foo", Bytes::new()).await.is_err());
        d.put_content("/dir/f", Bytes::new()).await.unwrap();
        assert!(d.put_content("/dir", Bytes::new()).await.is_err());
        assert!(d.move_to("/notadir", "/dir").await.is_err());
        assert!(d.move_to("/dir", "/dir/sub").await.is_err());
        assert!(d.list("/notadir").await.unwrap_err().is_path_not_found());
        assert_eq!(d.list("/").await.unwrap(), ["/dir", "/notadir"]);
        assert!(d.stat("/dir").await.unwrap().is_dir);
    }

    #[tokio::test]
    async fn move_directory_and_reader_offsets() {
        let d = crate::driver::Base::new(InMemoryDriver::new());
        d.put_content("/a/x/1", Bytes::from_static(b"0123"))
            .await
            .unwrap();
        d.move_to("/a/x", "/b/y").await.unwrap();
        assert!(d.stat("/a/x").await.unwrap_err().is_path_not_found());
        let mut r = d.reader("/b/y/1", 2).await.unwrap();
        let mut s = String::new();
        r.read_to_string(&mut s).await.unwrap();
        assert_eq!(s, "23");
        let mut r = d.reader("/b/y/1", 99).await.unwrap();
        assert_eq!(r.read(&mut [0u8; 4]).await.unwrap(), 0);
    }
}
