//! S3Client against OpenStack Swift's s3api (started by `.ci/swift-s3api.sh`, found through
//! `S3DRIVER_SWIFT_ENDPOINT`), an independent strict verifier of SigV2 and SigV4 (header and
//! presigned), with keymaster+encryption for SSE, InvalidPart / EntityTooSmall checks, paged
//! ListParts and ListMultipartUploads.
//!
//! The matrix: every shared scenario of `client_support` × {SigV4, SigV2} × {path-style,
//! virtual-hosted}, then Swift-only tests. Every test skips (passes with a note) when Swift is
//! not configured, and fails when `S3DRIVER_REQUIRE_SWIFT=1`.

mod client_support;
mod common;

use bytes::Bytes;
use client_support::*;
use s3driver::client::{SignatureVersion, WriteOptions};
use s3driver::xml::{CompletedPart, ETag};

/// A fresh bucket on Swift and the matrix cell for it; `None` when Swift is not running.
async fn cell(sig: SignatureVersion, style: Style) -> Option<Cell> {
    let swift = common::swift_or_skip()?;
    let bucket = common::unique_bucket_name("client");
    swift.create_bucket(&bucket).await;
    Some(Cell {
        target: swift.target(),
        kind: ServerKind::Swift,
        bucket,
        sig,
        style,
    })
}

macro_rules! swift_matrix {
    ($name:ident, $sig:expr, $style:expr) => {
        mod $name {
            use super::*;

            async fn cell() -> Option<Cell> {
                super::cell($sig, $style).await
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
                scenario_swift_multipart_errors_and_paging(&cell).await;
            }
        }
    };
}

swift_matrix!(v4_path, SignatureVersion::V4, Style::Path);
swift_matrix!(v4_virtual, SignatureVersion::V4, Style::Virtual);
swift_matrix!(v2_path, SignatureVersion::V2, Style::Path);
swift_matrix!(v2_virtual, SignatureVersion::V2, Style::Virtual);

/// Swift has no aws-chunked: the streaming upload fails with a clear 501 NotImplemented.
#[tokio::test]
async fn aws_chunked_is_not_implemented() {
    let Some(cell) = cell(SignatureVersion::V4, Style::Path).await else {
        return;
    };
    scenario_put_stream_chunked(&cell).await;
}

/// Swift-only multipart behaviour: a wrong part ETag is InvalidPart, small non-last parts are
/// EntityTooSmall, ListParts pages with a small max-parts (list_all_parts_paged follows the
/// markers), ListMultipartUploads lists open uploads (and not completed/aborted ones).
async fn scenario_swift_multipart_errors_and_paging(cell: &Cell) {
    let c = cell.client();
    let what = format!("swift {:?} {:?}", cell.sig, cell.style);

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

    // Complete with a wrong ETag: InvalidPart.
    let mut parts: Vec<CompletedPart> = all
        .iter()
        .map(|p| CompletedPart {
            part_number: p.part_number,
            etag: p.etag.clone().expect("Swift lists part ETags"),
        })
        .collect();
    parts[0].etag = ETag::new("\"0123456789abcdef0123456789abcdef\"");
    let err = c
        .complete_multipart_upload(key, &upload, &parts)
        .await
        .unwrap_err();
    assert_service(&err, 400, "InvalidPart", &what);
    assert_eq!(err.operation(), Some("CompleteMultipartUpload"));
    assert!(err.request_id().is_some());

    // Complete with the right ETags but tiny parts: EntityTooSmall.
    let parts: Vec<CompletedPart> = all
        .iter()
        .map(|p| CompletedPart {
            part_number: p.part_number,
            etag: p.etag.clone().expect("Swift lists part ETags"),
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
