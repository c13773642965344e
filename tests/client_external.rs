//! S3Client against the two external signature-verifying servers: OpenStack Swift's s3api
//! (`.ci/swift-s3api.sh`, `S3DRIVER_SWIFT_ENDPOINT`) and Ceph RADOS Gateway
//! (`.ci/ceph-rgw-start.sh`, `S3DRIVER_CEPH_ENDPOINT`). Both are strict verifiers of SigV2 and
//! SigV4 (header and presigned), with SSE, InvalidPart / EntityTooSmall checks, paged ListParts
//! and ListMultipartUploads.
//!
//! The matrix: every shared scenario of `client_support` × {Swift, Ceph} × {SigV4, SigV2} ×
//! {path-style, virtual-hosted}. Where the servers differ, the scenario states what each does
//! (`ServerKind`). Every test skips (passes with a note) when its server is not configured, and
//! fails when `S3DRIVER_REQUIRE_SWIFT=1` / `S3DRIVER_REQUIRE_CEPH=1`.

mod client_support;
mod common;

use bytes::Bytes;
use client_support::*;
use s3driver::client::{SignatureVersion, WriteOptions};
use s3driver::xml::{CompletedPart, ETag};

/// A fresh bucket on the server and the matrix cell for it; `None` when it is not running.
async fn cell(kind: ServerKind, sig: SignatureVersion, style: Style) -> Option<Cell> {
    let spec = match kind {
        ServerKind::Swift => &common::SWIFT,
        ServerKind::Ceph => &common::CEPH,
        ServerKind::S3s => unreachable!("s3s-fs runs in client_s3s.rs"),
    };
    let server = common::server_or_skip(spec)?;
    let bucket = common::unique_bucket_name("client");
    server.create_bucket(&bucket).await;
    Some(Cell {
        target: server.target(),
        kind,
        bucket,
        sig,
        style,
    })
}

macro_rules! matrix {
    ($name:ident, $kind:expr, $sig:expr, $style:expr) => {
        mod $name {
            use super::*;

            async fn cell() -> Option<Cell> {
                super::cell($kind, $sig, $style).await
            }

            #[tokio::test]
            async fn wrong_secret_is_refused() {
                let Some(cell) = cell().await else { return };
                scenario_wrong_secret(&cell).await;
            }

            #[tokio::test]
            async fn put_get_head() {
                let Some(cell) = cell().await else { return };
                scenario_put_get_head(&cell).await;
            }

            #[tokio::test]
            async fn put_options() {
                let Some(cell) = cell().await else { return };
                scenario_put_options(&cell).await;
            }

            #[tokio::test]
            async fn put_stream_unsigned() {
                let Some(cell) = cell().await else { return };
                scenario_put_stream_unsigned(&cell).await;
            }

            #[tokio::test]
            async fn delete() {
                let Some(cell) = cell().await else { return };
                scenario_delete(&cell).await;
            }

            #[tokio::test]
            async fn copy() {
                let Some(cell) = cell().await else { return };
                scenario_copy(&cell).await;
            }

            #[tokio::test]
            async fn multipart() {
                let Some(cell) = cell().await else { return };
                scenario_multipart(&cell).await;
            }

            #[tokio::test]
            async fn list() {
                let Some(cell) = cell().await else { return };
                scenario_list(&cell).await;
            }

            #[tokio::test]
            async fn location() {
                let Some(cell) = cell().await else { return };
                scenario_location(&cell).await;
            }

            #[tokio::test]
            async fn presign() {
                let Some(cell) = cell().await else { return };
                scenario_presign(&cell).await;
            }

            #[tokio::test]
            async fn multipart_errors_and_paging() {
                let Some(cell) = cell().await else { return };
                scenario_strict_multipart_errors_and_paging(&cell).await;
            }
        }
    };
}

matrix!(
    swift_v4_path,
    ServerKind::Swift,
    SignatureVersion::V4,
    Style::Path
);
matrix!(
    swift_v4_virtual,
    ServerKind::Swift,
    SignatureVersion::V4,
    Style::Virtual
);
matrix!(
    swift_v2_path,
    ServerKind::Swift,
    SignatureVersion::V2,
    Style::Path
);
matrix!(
    swift_v2_virtual,
    ServerKind::Swift,
    SignatureVersion::V2,
    Style::Virtual
);
matrix!(
    ceph_v4_path,
    ServerKind::Ceph,
    SignatureVersion::V4,
    Style::Path
);
matrix!(
    ceph_v4_virtual,
    ServerKind::Ceph,
    SignatureVersion::V4,
    Style::Virtual
);
matrix!(
    ceph_v2_path,
    ServerKind::Ceph,
    SignatureVersion::V2,
    Style::Path
);
matrix!(
    ceph_v2_virtual,
    ServerKind::Ceph,
    SignatureVersion::V2,
    Style::Virtual
);

/// aws-chunked uploads: Swift has none (a clear 501 NotImplemented); RGW 16 verifies the chunk
/// signatures (without trailers).
#[tokio::test]
async fn aws_chunked_on_swift() {
    let Some(cell) = cell(ServerKind::Swift, SignatureVersion::V4, Style::Path).await else {
        return;
    };
    scenario_put_stream_chunked(&cell).await;
}

#[tokio::test]
async fn aws_chunked_on_ceph() {
    let Some(cell) = cell(ServerKind::Ceph, SignatureVersion::V4, Style::Path).await else {
        return;
    };
    scenario_put_stream_chunked(&cell).await;
}

/// Multipart behaviour of the strict servers: a wrong part ETag is InvalidPart, small non-last
/// parts are EntityTooSmall, ListParts pages with a small max-parts (list_all_parts_paged follows
/// the markers), ListMultipartUploads lists open uploads (and not completed/aborted ones), and a
/// key-marker skips the marker's own uploads (RGW lists them; the client filters them out).
async fn scenario_strict_multipart_errors_and_paging(cell: &Cell) {
    let c = cell.client();
    let what = cell.label();

    // ListParts paging: 7 parts, 2 per page.
    let key = "mp/paged";
    let upload = c
        .create_multipart_upload(key, &WriteOptions::default())
        .await
        .unwrap();
    let etags = upload_small_parts(&c, key, &upload, 7).await;
    let page = c.list_parts(key, &upload, None, Some(2)).await.unwrap();
    assert!(page.is_truncated, "{what}: {page:?}");
    assert_eq!(page.parts.len(), 2);
    assert_eq!(page.next_part_number_marker, Some(2));
    let page = c.list_parts(key, &upload, Some(6), Some(2)).await.unwrap();
    assert!(!page.is_truncated, "{what}: {page:?}");
    assert_eq!(page.parts.len(), 1);
    assert_eq!(page.parts[0].part_number, 7);
    let all = c.list_all_parts_paged(key, &upload, Some(2)).await.unwrap();
    let numbers: Vec<u32> = all.iter().map(|p| p.part_number).collect();
    assert_eq!(numbers, [1, 2, 3, 4, 5, 6, 7], "{what}");
    for (p, e) in all.iter().zip(&etags) {
        assert!(
            p.etag.as_ref().is_some_and(|pe| pe.matches(e)),
            "{what}: {p:?} vs {e:?}"
        );
        assert_eq!(p.size, format!("part {}", p.part_number).len() as u64);
    }
    assert_eq!(c.list_all_parts(key, &upload).await.unwrap(), all);

    // ListMultipartUploads: the open uploads under a prefix.
    let other = c
        .create_multipart_upload("mp/other", &WriteOptions::default())
        .await
        .unwrap();
    let outside = c
        .create_multipart_upload("elsewhere/x", &WriteOptions::default())
        .await
        .unwrap();
    let listing = c.list_multipart_uploads("mp/", None, None).await.unwrap();
    let mut found: Vec<(String, String)> = listing
        .uploads
        .iter()
        .map(|u| (u.key.clone(), u.upload_id.clone()))
        .collect();
    found.sort();
    let mut want = vec![
        ("mp/other".to_owned(), other.clone()),
        ("mp/paged".to_owned(), upload.clone()),
    ];
    want.sort();
    assert_eq!(found, want, "{what}: {listing:?}");
    assert!(!listing.is_truncated);
    // key-marker skips keys up to and including the marker.
    let listing = c
        .list_multipart_uploads("mp/", Some("mp/other"), None)
        .await
        .unwrap();
    let keys: Vec<&str> = listing.uploads.iter().map(|u| u.key.as_str()).collect();
    assert_eq!(keys, ["mp/paged"], "{what}");

    // Complete with a wrong ETag: InvalidPart (RGW checks the part sizes first: these parts
    // are too small, so it answers EntityTooSmall).
    let mut parts: Vec<CompletedPart> = all
        .iter()
        .map(|p| CompletedPart {
            part_number: p.part_number,
            etag: p.etag.clone().expect("the server lists part ETags"),
        })
        .collect();
    parts[0].etag = ETag::new("\"0123456789abcdef0123456789abcdef\"");
    let err = c
        .complete_multipart_upload(key, &upload, &parts)
        .await
        .unwrap_err();
    let code = match cell.kind {
        ServerKind::Ceph => "EntityTooSmall",
        _ => "InvalidPart",
    };
    assert_service(&err, 400, code, &what);
    assert_eq!(err.operation(), Some("CompleteMultipartUpload"));
    assert!(err.request_id().is_some());

    // Complete with the right ETags but tiny parts: EntityTooSmall.
    let parts: Vec<CompletedPart> = all
        .iter()
        .map(|p| CompletedPart {
            part_number: p.part_number,
            etag: p.etag.clone().expect("the server lists part ETags"),
        })
        .collect();
    let err = c
        .complete_multipart_upload(key, &upload, &parts)
        .await
        .unwrap_err();
    assert_service(&err, 400, "EntityTooSmall", &what);
    assert!(c.head_object(key).await.unwrap_err().is_not_found());

    // Complete the other one (a single small last part is fine), abort the rest.
    let e = c
        .upload_part("mp/other", &other, 1, Bytes::from_static(b"only part"))
        .await
        .unwrap();
    c.complete_multipart_upload(
        "mp/other",
        &other,
        &[CompletedPart {
            part_number: 1,
            etag: e,
        }],
    )
    .await
    .unwrap();
    assert_eq!(get_bytes(&c, "mp/other").await.unwrap(), &b"only part"[..]);
    c.abort_multipart_upload(key, &upload).await.unwrap();
    let listing = c.list_multipart_uploads("mp/", None, None).await.unwrap();
    assert!(listing.uploads.is_empty(), "{what}: {listing:?}");
    let listing = c.list_multipart_uploads("", None, None).await.unwrap();
    let keys: Vec<&str> = listing.uploads.iter().map(|u| u.key.as_str()).collect();
    assert_eq!(keys, ["elsewhere/x"], "{what}");
    c.abort_multipart_upload("elsewhere/x", &outside)
        .await
        .unwrap();
    // Aborting twice: NoSuchUpload, reported as not found.
    let err = c
        .abort_multipart_upload("elsewhere/x", &outside)
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{what}: {err}");
}
