//! The driver-generic tests of Distribution's `s3-aws/s3_test.go`
//! (`TestDelete`, `TestWalk`, `TestOverThousandBlobs`, `TestListObjectsV2`).
//! Paths live under a random top-level directory (S3's tests use a random
//! root directory instead), which each test deletes at the end.
//!
//! Only [`test_walk`] depends on the walk order: each case lists the order of
//! `walk_fallback` ([`WalkOrder::Sorted`]) and the S3 byte order of keys
//! ([`WalkOrder::S3Keys`], what an S3 driver with a native walk must produce).

use bytes::Bytes;
use futures_util::future::join_all;
use s3driver::driver::{DriverError, FileInfo, StorageDriver, WalkControl, WalkOptions};

use super::{assert_not_found, delete_path, random_filename, SuiteConfig, WalkOrder};
fn test_root() -> String {
    format!("/{}", random_filename(20))
}

/// Port of S3's `TestDelete`: a tree with sibling prefixes (`/file1` vs
/// `/file1-2`, `/folder1` vs `/folder1-v2`); each delete removes exactly its
/// subtree; missing path -> PathNotFound; invalid paths -> InvalidPath.
pub async fn test_delete_tree(d: &dyn StorageDriver, _cfg: &SuiteConfig) {
    let root = test_root();
    const OBJS: &[&str] = &[
        "/file1",
        "/file1-2",
        "/folder1/file1",
        "/folder2/file1",
        "/folder3/file1",
        "/folder3/subfolder1/subfolder1/file1",
        "/folder3/subfolder2/subfolder1/file1",
        "/folder4/file1",
        "/folder1-v2/file1",
        "/folder1-v2/subfolder1/file1",
    ];
    #[derive(Debug, Clone, Copy)]
    enum Want {
        Ok,
        NotFound,
        Invalid,
    }
    let mut cases: Vec<(&str, Vec<&str>, Want)> = vec![
        ("/folder1", vec!["/folder1/file1"], Want::Ok),
        ("/folder2", vec!["/folder2/file1"], Want::Ok),
        (
            "/folder3",
            vec![
                "/folder3/file1",
                "/folder3/subfolder1/subfolder1/file1",
                "/folder3/subfolder2/subfolder1/file1",
            ],
            Want::Ok,
        ),
        ("/path/does/not/exist", vec![], Want::NotFound),
        ("/path/is/invalid/", vec![], Want::Invalid),
        ("/path/is/invalid*", vec![], Want::Invalid),
    ];
    cases.extend(OBJS.iter().map(|p| (*p, vec![*p], Want::Ok)));

    for (target, expected, want) in cases {
        for p in OBJS {
            d.put_content(&format!("{root}{p}"), Bytes::from(format!("content {p}")))
                .await
                .expect("init");
        }
        let res = d.delete(&format!("{root}{target}")).await;
        match (want, &res) {
            (Want::Ok, Ok(())) => {}
            (Want::NotFound, Err(e)) if e.is_path_not_found() => {}
            (Want::Invalid, Err(DriverError::InvalidPath { .. })) => {}
            _ => panic!("delete {target}: expected {want:?}, got {res:?}"),
        }
        let mut issues = Vec::new();
        for p in OBJS {
            match d.stat(&format!("{root}{p}")).await {
                Err(e) if e.is_path_not_found() => {
                    if !expected.contains(p) {
                        issues.push(format!("unexpected path was deleted: {p}"));
                    }
                }
                Err(e) => panic!("stat {p}: {e}"),
                // An object path that also has children reads as a directory.
                Ok(fi) if fi.is_dir => {}
                Ok(_) => {
                    if expected.contains(p) {
                        issues.push(format!("expected path was not deleted: {p}"));
                    }
                }
            }
        }
        assert!(issues.is_empty(), "delete {target}: {}", issues.join("; "));
    }
    delete_path(d, &root).await;
}

#[derive(Debug, Clone, Copy)]
enum Step {
    Continue,
    SkipAt(&'static str),
    StopAt(&'static str),
    Fail,
}

struct WalkCase {
    name: &'static str,
    from: &'static str,
    hint: Option<&'static str>,
    step: Step,
    sorted: &'static [&'static str],
    /// S3 byte order.
    s3: &'static [&'static str],
    err: bool,
}

const WALK_FILES: &[&str] = &[
    "/file1",
    "/folder1-suffix/file1",
    "/folder1/file1",
    "/folder2/file1",
    "/folder3/subfolder1/subfolder1/file1",
    "/folder3/subfolder2/subfolder1/file1",
    "/folder4/file1",
];

const FOLDER3_ALL: &[&str] = &[
    "/folder3/subfolder1",
    "/folder3/subfolder1/subfolder1",
    "/folder3/subfolder1/subfolder1/file1",
    "/folder3/subfolder2",
    "/folder3/subfolder2/subfolder1",
    "/folder3/subfolder2/subfolder1/file1",
];

fn walk_cases() -> Vec<WalkCase> {
    vec![
        WalkCase {
            name: "walk all",
            from: "",
            hint: None,
            step: Step::Continue,
            sorted: &[
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
            ],
            s3: &[
                "/file1",
                "/folder1-suffix",
                "/folder1-suffix/file1",
                "/folder1",
                "/folder1/file1",
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
            ],
            err: false,
        },
        WalkCase {
            name: "skip directory",
            from: "",
            hint: None,
            step: Step::SkipAt("/folder3"),
            sorted: &[
                "/file1",
                "/folder1",
                "/folder1/file1",
                "/folder1-suffix",
                "/folder1-suffix/file1",
                "/folder2",
                "/folder2/file1",
                "/folder3",
                "/folder4",
                "/folder4/file1",
            ],
            s3: &[
                "/file1",
                "/folder1-suffix",
                "/folder1-suffix/file1",
                "/folder1",
                "/folder1/file1",
                "/folder2",
                "/folder2/file1",
                "/folder3",
                "/folder4",
                "/folder4/file1",
            ],
            err: false,
        },
        WalkCase {
            name: "start late without from",
            from: "",
            hint: Some("/folder3/subfolder1/subfolder1/file1"),
            step: Step::Continue,
            sorted: &[
                "/folder3/subfolder2",
                "/folder3/subfolder2/subfolder1",
                "/folder3/subfolder2/subfolder1/file1",
                "/folder4",
                "/folder4/file1",
            ],
            // S3 re-announces the ancestor directory of the first key after the hint.
            s3: &[
                "/folder3",
                "/folder3/subfolder2",
                "/folder3/subfolder2/subfolder1",
                "/folder3/subfolder2/subfolder1/file1",
                "/folder4",
                "/folder4/file1",
            ],
            err: false,
        },
        WalkCase {
            name: "start late with from",
            from: "/folder3",
            hint: Some("/folder3/subfolder1/subfolder1/file1"),
            step: Step::Continue,
            sorted: &FOLDER3_ALL[3..],
            s3: &FOLDER3_ALL[3..],
            err: false,
        },
        WalkCase {
            name: "start after from",
            from: "/folder1",
            hint: Some("/folder2"),
            step: Step::Continue,
            sorted: &[],
            s3: &[],
            err: false,
        },
        WalkCase {
            name: "start matches from",
            from: "/folder3",
            hint: Some("/folder3"),
            step: Step::Continue,
            sorted: FOLDER3_ALL,
            s3: FOLDER3_ALL,
            err: false,
        },
        WalkCase {
            name: "start doesn't exist",
            from: "/folder3",
            hint: Some("/folder3/notafolder/notafile"),
            step: Step::Continue,
            sorted: FOLDER3_ALL,
            s3: FOLDER3_ALL,
            err: false,
        },
        WalkCase {
            name: "hint outside, before from",
            from: "/folder3",
            hint: Some("/folder1/file1"),
            step: Step::Continue,
            sorted: FOLDER3_ALL,
            s3: FOLDER3_ALL,
            err: false,
        },
        WalkCase {
            // From Distribution's walk_test.go (fallback order); the S3 order is
            // derived from S3's StartAfter semantics: '-' < '/', so the
            // -suffix folder lies before the hint in key order.
            name: "start late expecting -suffix",
            from: "",
            hint: Some("/folder1/file1"),
            step: Step::Continue,
            sorted: &[
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
            ],
            s3: &[
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
            ],
            err: false,
        },
        WalkCase {
            name: "stop early",
            from: "",
            hint: None,
            step: Step::StopAt("/folder1/file1"),
            sorted: &["/file1", "/folder1", "/folder1/file1"],
            s3: &[
                "/file1",
                "/folder1-suffix",
                "/folder1-suffix/file1",
                "/folder1",
                "/folder1/file1",
            ],
            err: false,
        },
        WalkCase {
            name: "error",
            from: "",
            hint: None,
            step: Step::Fail,
            sorted: &["/file1"],
            s3: &["/file1"],
            err: true,
        },
        WalkCase {
            name: "from folder",
            from: "/folder1",
            hint: None,
            step: Step::Continue,
            sorted: &["/folder1/file1"],
            s3: &["/folder1/file1"],
            err: false,
        },
    ]
}

/// Port of S3's `TestWalk` cases (walk all, skip dir, start-after with and
/// without from, start matches from, hint that does not exist or lies
/// outside, stop early, error propagation, from a folder), with expected
/// orders for both [`WalkOrder`]s.
pub async fn test_walk(d: &dyn StorageDriver, cfg: &SuiteConfig) {
    let root = test_root();
    for p in WALK_FILES {
        d.put_content(&format!("{root}{p}"), Bytes::from(format!("content {p}")))
            .await
            .expect("create file set");
    }
    let mut failures = Vec::new();
    for case in walk_cases() {
        let from = format!("{root}{}", case.from);
        let opts = match case.hint {
            Some(h) => WalkOptions::start_after(format!("{root}{h}")),
            None => WalkOptions::default(),
        };
        let mut walked: Vec<String> = Vec::new();
        let mut bad_kind = Vec::new();
        let res = d
            .walk(
                &from,
                &mut |fi: &FileInfo| {
                    let rel = fi
                        .path
                        .strip_prefix(root.as_str())
                        .unwrap_or(&fi.path)
                        .to_owned();
                    if fi.is_dir == WALK_FILES.contains(&rel.as_str()) {
                        bad_kind.push(rel.clone());
                    }
                    walked.push(rel.clone());
                    match case.step {
                        Step::Continue => Ok(WalkControl::Continue),
                        Step::SkipAt(p) if rel == p => Ok(WalkControl::SkipDir),
                        Step::StopAt(p) if rel == p => Ok(WalkControl::Stop),
                        Step::SkipAt(_) | Step::StopAt(_) => Ok(WalkControl::Continue),
                        Step::Fail => Err(DriverError::msg("foo")),
                    }
                },
                opts,
            )
            .await;
        let expected = match cfg.walk_order {
            WalkOrder::Sorted => case.sorted,
            WalkOrder::S3Keys => case.s3,
        };
        match (&res, case.err) {
            (Ok(()), false) => {}
            (Err(e), true) if e.to_string().contains("foo") => {}
            _ => failures.push(format!("{}: result {res:?}", case.name)),
        }
        if walked != expected {
            failures.push(format!(
                "{}: walked {walked:?}, expected {expected:?}",
                case.name
            ));
        }
        if !bad_kind.is_empty() {
            failures.push(format!("{}: wrong is_dir for {bad_kind:?}", case.name));
        }
    }
    delete_path(d, &root).await;
    assert!(
        failures.is_empty(),
        "walk cases failed:\n{}",
        failures.join("\n")
    );
}

/// Port of S3's `TestOverThousandBlobs`: 1005 files in one directory, then one
/// delete of the directory (more than one listing page on S3).
pub async fn test_over_thousand_blobs(d: &dyn StorageDriver, _cfg: &SuiteConfig) {
    let root = test_root();
    let dir = format!("{root}/thousandfiletest");
    // Ten concurrent writers keep this quick on any backend.
    let names: Vec<String> = (0..1005).map(|i| format!("{dir}/file{i}")).collect();
    for batch in names.chunks(10) {
        join_all(batch.iter().map(|name| async move {
            d.put_content(name, Bytes::from_static(b"contents"))
                .await
                .unwrap_or_else(|e| panic!("put {name}: {e}"));
        }))
        .await;
    }
    assert_eq!(d.list(&dir).await.expect("list").len(), 1005);
    d.delete(&dir).await.expect("delete thousand files");
    assert_not_found(&d.list(&dir).await.unwrap_err(), d);
    delete_path(d, &root).await;
}

/// Port of S3's `TestListObjectsV2`: six files and a subdirectory; Stat, List
/// and Walk agree.
pub async fn test_list_objects_v2(d: &dyn StorageDriver, _cfg: &SuiteConfig) {
    let root = test_root();
    let prefix = format!("{root}/test-list-objects-v2");
    let files: Vec<String> = (0..6).map(|i| format!("{prefix}/{i}")).collect();
    for p in &files {
        d.put_content(p, Bytes::from(p.clone())).await.expect("put");
    }
    let fi = d.stat(&files[0]).await.expect("stat");
    assert!(
        !fi.is_dir && fi.size == files[0].len() as u64 && fi.path == files[0],
        "{fi:?}"
    );

    let sub_file = format!("{prefix}/sub/0");
    let sub_dir = format!("{prefix}/sub");
    d.put_content(&sub_file, Bytes::from(sub_file.clone()))
        .await
        .expect("put");

    let mut expected: Vec<String> = files.iter().cloned().chain([sub_dir.clone()]).collect();
    expected.sort();
    let mut listed = d.list(&prefix).await.expect("list");
    listed.sort();
    assert_eq!(listed, expected);

    let mut walked = Vec::new();
    let mut wrong = Vec::new();
    d.walk(
        &prefix,
        &mut |fi: &FileInfo| {
            walked.push(fi.path.clone());
            let ok = if fi.path == sub_dir {
                fi.is_dir
            } else {
                !fi.is_dir && fi.size == fi.path.len() as u64
            };
            if !ok {
                wrong.push(fi.clone());
            }
            Ok(WalkControl::Continue)
        },
        WalkOptions::default(),
    )
    .await
    .expect("walk");
    assert!(wrong.is_empty(), "unexpected walking file info: {wrong:?}");
    expected.push(sub_file);
    expected.sort();
    walked.sort();
    assert_eq!(walked, expected);

    d.delete(&prefix).await.expect("delete");
    delete_path(d, &root).await;
}
