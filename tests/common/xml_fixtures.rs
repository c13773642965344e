//! The XML fixtures of `tests/fixtures/xml/` (`aws/`: the S3 API reference examples,
//! `servers/`: other servers' bodies), read for the codec's tests: `tests/xml_codec.rs` and the
//! unit tests in `src/xml/tests.rs` include this file.

#![allow(dead_code)] // each includer uses a different part

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/xml")
}

/// The bytes of fixture `name` (a path below `tests/fixtures/xml/`).
pub fn fixture(name: &str) -> Vec<u8> {
    let path = fixtures_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Fixture `name` as text.
pub fn fixture_str(name: &str) -> String {
    String::from_utf8(fixture(name)).expect("fixtures are UTF-8")
}

/// Every `*.xml` fixture, as (relative path, bytes), sorted by path; read once.
pub fn all_fixtures() -> &'static [(String, Vec<u8>)] {
    static FIXTURES: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    FIXTURES.get_or_init(read_all_fixtures)
}

fn read_all_fixtures() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for dir in ["aws", "servers"] {
        for entry in std::fs::read_dir(fixtures_dir().join(dir)).expect("fixture dir") {
            let path = entry.expect("dir entry").path();
            if path.extension().is_some_and(|e| e == "xml") {
                let name = format!("{dir}/{}", path.file_name().unwrap().to_string_lossy());
                out.push((name, std::fs::read(&path).expect("fixture")));
            }
        }
    }
    out.sort();
    assert!(out.len() >= 35, "fixtures missing: {}", out.len());
    out
}
