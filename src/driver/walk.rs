//! Walking a tree: [`WalkControl`], [`WalkOptions`] and [`walk_fallback`], the
//! generic `List` + `Stat` walk (Distribution's `WalkFallback`, `walk.go`).

use std::future::Future;
use std::pin::Pin;

use super::path::{is_subpath, parent_path};
use super::{DriverError, FileInfo, StorageDriver};

/// What a walk callback wants next (Distribution signals these with sentinel
/// errors: `nil`, `ErrSkipDir`, `ErrFilledBuffer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalkControl {
    /// Keep going; descend into this entry if it is a directory.
    Continue,
    /// Do not descend into this directory (no effect for a file).
    SkipDir,
    /// Stop the walk now; the walk returns `Ok(())` (`ErrFilledBuffer`).
    Stop,
}

/// The callback a walk calls once per file and directory below its start path.
/// An `Err` stops the walk and is returned by it.
pub type WalkFn<'a> = dyn FnMut(&FileInfo) -> Result<WalkControl, DriverError> + Send + 'a;

/// Options of [`StorageDriver::walk`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WalkOptions {
    /// If set, the walk *may* skip every entry up to and including this path
    /// (in the driver's walk order); drivers are free to ignore it. The registry's
    /// catalog uses it to page through repositories.
    pub start_after_hint: Option<String>,
}

impl WalkOptions {
    /// Options with a start-after hint (Distribution's `WithStartAfterHint`).
    pub fn start_after(hint: impl Into<String>) -> Self {
        Self {
            start_after_hint: Some(hint.into()),
        }
    }
}

/// Whether a (sub)walk ran to its end or was stopped by the callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Finished,
    Stopped,
}

type WalkFuture<'a> = Pin<Box<dyn Future<Output = Result<Flow, DriverError>> + Send + 'a>>;

/// Walks the tree below `from` with `List` and `Stat`, calling `f` for every
/// file and directory (not for `from` itself), depth first, the children of each
/// directory in byte order of their full paths.
///
/// This is Distribution's `WalkFallback`, used by drivers without a native walk
/// (in-memory, filesystem):
/// * [`WalkControl::SkipDir`] on a directory skips its contents;
///   [`WalkControl::Stop`] ends the walk with `Ok(())`; an `Err` from `f` ends it
///   with that error.
/// * A child that disappears between `List` and `Stat` (or a directory that
///   disappears before it is listed) is skipped.
/// * `opts.start_after_hint`: if the hint lies inside `from`, the walk starts
///   after it (every entry `<=` the hint in this walk order is skipped); if it
///   lies outside, the walk covers everything when the hint sorts before `from`
///   and nothing otherwise ("/" ordered before every other byte).
///
/// # Errors
///
/// `List` of `from` failing (e.g. `PathNotFound` when no hint is given), a `Stat`
/// failing with anything but `PathNotFound`, or the callback's error.
pub(crate) async fn walk_fallback<D: StorageDriver + ?Sized>(
    driver: &D,
    from: &str,
    f: &mut WalkFn<'_>,
    opts: &WalkOptions,
) -> Result<(), DriverError> {
    let hint = opts.start_after_hint.as_deref().unwrap_or("");
    if hint != from && !(hint.starts_with('/') && is_subpath(hint, from)) {
        // The hint lies outside `from` (or is empty).
        if depth_first_less(hint, from) {
            let children = driver.list(from).await?;
            walk_children(driver, children, "", f).await?;
        }
        return Ok(());
    }
    // The hint lies inside `from`: walk the rest of each directory from the
    // hint's level up to `from`, each time starting after the entry we came from.
    let mut start_after = hint.to_owned();
    let mut base = hint.to_owned();
    loop {
        match driver.list(&base).await {
            Ok(children) => {
                if walk_children(driver, children, &start_after, f).await? == Flow::Stopped {
                    return Ok(());
                }
            }
            // The hint (or one of its ancestors) is not a directory: nothing to walk there.
            Err(e) if e.is_path_not_found() => {}
            Err(e) => return Err(e),
        }
        if base == from {
            return Ok(());
        }
        start_after = base;
        base = parent_path(&start_after).to_owned();
    }
}

/// `a < b` in depth-first order: byte order with '/' below every other byte.
fn depth_first_less(a: &str, b: &str) -> bool {
    let key = |s: &str| {
        s.bytes()
            .map(|c| if c == b'/' { 0 } else { c })
            .collect::<Vec<u8>>()
    };
    key(a) < key(b)
}

fn walk_children<'a, D: StorageDriver + ?Sized>(
    driver: &'a D,
    mut children: Vec<String>,
    start_after: &'a str,
    f: &'a mut WalkFn<'_>,
) -> WalkFuture<'a> {
    Box::pin(async move {
        crate::sort::sort(&mut children);
        for child in children {
            if child.as_str() <= start_after {
                continue;
            }
            let info = match driver.stat(&child).await {
                Ok(info) => info,
                // Removed between List and Stat: ignore it.
                Err(e) if e.is_path_not_found() => continue,
                Err(e) => return Err(e),
            };
            match f(&info)? {
                WalkControl::Continue if info.is_dir => {
                    let grandchildren = match driver.list(&child).await {
                        Ok(c) => c,
                        Err(e) if e.is_path_not_found() => continue,
                        Err(e) => return Err(e),
                    };
                    if walk_children(driver, grandchildren, start_after, &mut *f).await?
                        == Flow::Stopped
                    {
                        return Ok(Flow::Stopped);
                    }
                }
                WalkControl::Continue | WalkControl::SkipDir => {}
                WalkControl::Stop => return Ok(Flow::Stopped),
            }
        }
        Ok(Flow::Finished)
    })
}

#[cfg(test)]
mod tests {
    //! Port of Distribution's `walk_test.go` (`TestWalkFallback`, `TestWalkFileRemoved`).
    use std::collections::BTreeMap;

    use async_trait::async_trait;

    use super::*;
    use crate::driver::fake::{StatList, StatListDriver};

    /// A fake tree: directory -> children. Stat says "dir" for map keys.
    #[derive(Debug, Default)]
    struct FakeTree {
        dirs: BTreeMap<String, Vec<String>>,
        /// For the "removed" test: List("/") returns these, Stat only knows `kept`.
        listing: Option<(Vec<String>, Vec<String>)>,
    }

    #[async_trait]
    impl StatList for FakeTree {
        async fn stat(&self, path: &str) -> Result<FileInfo, DriverError> {
            if let Some((_, kept)) = &self.listing {
                return if kept.iter().any(|k| k == path) {
                    Ok(FileInfo::file(path, 0, None))
                } else {
                    Err(DriverError::path_not_found(path))
                };
            }
            Ok(if self.dirs.contains_key(path) {
                FileInfo::dir(path, None)
            } else {
                FileInfo::file(path, path.len() as u64, None)
            })
        }
        async fn list(&self, path: &str) -> Result<Vec<String>, DriverError> {
            if let Some((all, _)) = &self.listing {
                return Ok(all.clone());
            }
            self.dirs
                .get(path)
                .cloned()
                .ok_or_else(|| DriverError::path_not_found(path))
        }
    }

    fn tree() -> StatListDriver<FakeTree> {
        let mut dirs = BTreeMap::new();
        let mut add = |d: &str, c: &[&str]| {
            dirs.insert(d.to_owned(), c.iter().map(|s| (*s).to_owned()).collect());
        };
        add(
            "/",
            &[
                "/file1",
                "/folder1",
                "/folder1-suffix",
                "/folder2",
                "/folder3",
                "/folder4",
            ],
        );
        add("/folder1", &["/folder1/file1"]);
        // '-' sorts before '/': the fallback still walks /folder1 before /folder1-suffix.
        add("/folder1-suffix", &["/folder1-suffix/file1"]);
        add("/folder2", &["/folder2/file1"]);
        add("/folder3", &["/folder3/subfolder1", "/folder3/subfolder2"]);
        add("/folder3/subfolder1", &["/folder3/subfolder1/subfolder1"]);
        add(
            "/folder3/subfolder1/subfolder1",
            &["/folder3/subfolder1/subfolder1/file1"],
        );
        add("/folder3/subfolder2", &["/folder3/subfolder2/subfolder1"]);
        add(
            "/folder3/subfolder2/subfolder1",
            &["/folder3/subfolder2/subfolder1/file1"],
        );
        add("/folder4", &["/folder4/file1"]);
        StatListDriver(FakeTree {
            dirs,
            listing: None,
        })
    }

    const ALL: &[&str] = &[
        "/file1",
        "/folder1",
        "/folder1/file1",
        "/folder1-suffix",
        "/folder1-suffix/file1",
        "/folder2",
        "/folder2/file1",
        "/folder3",
        "/folder3/subfolder1",
        "/folder3/subfolder1/subfolder1",
        "/folder3/subfolder1/subfolder1/file1",
        "/folder3/subfolder2",
        "/folder3/subfolder2/subfolder1",
        "/folder3/subfolder2/subfolder1/file1",
        "/folder4",
        "/folder4/file1",
    ];

    async fn run(
        t: &StatListDriver<FakeTree>,
        from: &str,
        hint: Option<&str>,
        mut decide: impl FnMut(&str) -> Result<WalkControl, DriverError> + Send,
    ) -> (Vec<String>, Result<(), DriverError>) {
        let mut walked = Vec::new();
        let opts = WalkOptions {
            start_after_hint: hint.map(str::to_owned),
        };
        let res = walk_fallback(
            t,
            from,
            &mut |fi: &FileInfo| {
                assert_eq!(
                    fi.is_dir,
                    t.0.dirs.contains_key(&fi.path),
                    "is_dir of {}",
                    fi.path
                );
                walked.push(fi.path.clone());
                decide(&fi.path)
            },
            &opts,
        )
        .await;
        (walked, res)
    }

    fn cont(_: &str) -> Result<WalkControl, DriverError> {
        Ok(WalkControl::Continue)
    }

    #[tokio::test]
    async fn walk_all_and_from_folder() {
        let t = tree();
        let (w, r) = run(&t, "/", None, cont).await;
        r.unwrap();
        assert_eq!(w, ALL);
        let (w, r) = run(&t, "/folder1", None, cont).await;
        r.unwrap();
        assert_eq!(w, ["/folder1/file1"]);
    }

    #[tokio::test]
    async fn skip_directory() {
        let t = tree();
        let (w, r) = run(&t, "/", None, |p| {
            Ok(if p == "/folder1" {
                WalkControl::SkipDir
            } else {
                WalkControl::Continue
            })
        })
        .await;
        r.unwrap();
        let expected: Vec<&str> = ALL
            .iter()
            .copied()
            .filter(|p| *p != "/folder1/file1")
            .collect();
        assert_eq!(w, expected);
    }

    #[tokio::test]
    async fn start_after_hints() {
        let t = tree();
        let (w, _) = run(&t, "/", Some("/folder1/file1"), cont).await;
        assert_eq!(w, &ALL[3..], "start late expecting -suffix");

        let (w, _) = run(&t, "/", Some("/folder3/subfolder1/subfolder1/file1"), cont).await;
        assert_eq!(
            w,
            [
                "/folder3/subfolder2",
                "/folder3/subfolder2/subfolder1",
                "/folder3/subfolder2/subfolder1/file1",
                "/folder4",
                "/folder4/file1"
            ],
            "start late without from"
        );

        let (w, _) = run(
            &t,
            "/folder3",
            Some("/folder3/subfolder1/subfolder1/file1"),
            cont,
        )
        .await;
        assert_eq!(w, &ALL[11..14], "start late with from");

        let (w, r) = run(&t, "/folder1", Some("/folder1-suffix"), cont).await;
        r.unwrap();
        assert!(w.is_empty(), "start after from: {w:?}");

        let (w, _) = run(&t, "/folder3", Some("/folder3"), cont).await;
        assert_eq!(w, &ALL[8..14], "start matches from");

        let (w, _) = run(&t, "/folder3", Some("/folder3/notafolder/notafile"), cont).await;
        assert_eq!(w, &ALL[8..14], "start doesn't exist");

        let (w, _) = run(&t, "/folder3", Some("/folder1/file1"), cont).await;
        assert_eq!(w, &ALL[8..14], "hint outside, before from");
    }

    #[tokio::test]
    async fn stop_early_and_errors() {
        let t = tree();
        let (w, r) = run(&t, "/", None, |p| {
            Ok(if p == "/folder1/file1" {
                WalkControl::Stop
            } else {
                WalkControl::Continue
            })
        })
        .await;
        r.unwrap();
        assert_eq!(w, ["/file1", "/folder1", "/folder1/file1"]);

        let (w, r) = run(&t, "/", None, |_| Err(DriverError::msg("foo"))).await;
        assert_eq!(w, ["/file1"]);
        assert!(r.unwrap_err().to_string().contains("foo"));
    }

    /// Distribution ignores a stop in a deeper level when walking from a hint and
    /// goes on with the parent levels; we stop.
    #[tokio::test]
    async fn stop_inside_a_hinted_level_stops_everything() {
        let t = tree();
        let (w, r) = run(&t, "/", Some("/folder3/subfolder1/subfolder1/file1"), |p| {
            Ok(if p == "/folder3/subfolder2" {
                WalkControl::Stop
            } else {
                WalkControl::Continue
            })
        })
        .await;
        r.unwrap();
        assert_eq!(w, ["/folder3/subfolder2"]);
    }

    #[tokio::test]
    async fn file_removed_between_list_and_stat() {
        let t = StatListDriver(FakeTree {
            dirs: BTreeMap::new(),
            listing: Some((
                vec!["/zoidberg".into(), "/bender".into()],
                vec!["/zoidberg".into()],
            )),
        });
        let mut seen = Vec::new();
        walk_fallback(
            &t,
            "/",
            &mut |fi: &FileInfo| {
                seen.push(fi.path.clone());
                Ok(WalkControl::Continue)
            },
            &WalkOptions::default(),
        )
        .await
        .unwrap();
        assert_eq!(seen, ["/zoidberg"]);
    }

    #[tokio::test]
    async fn missing_from_is_an_error_without_hint() {
        let t = tree();
        let (_, r) = run(&t, "/nope", None, cont).await;
        assert!(r.unwrap_err().is_path_not_found());
    }

    #[test]
    fn depth_first_order() {
        assert!(depth_first_less("/folder1/file1", "/folder1-suffix"));
        assert!(!depth_first_less("/folder2", "/folder1"));
        assert!(depth_first_less("", "/"));
    }
}
