//! Tests of the S3 XML codec (`s3driver::xml`): golden parses of the AWS API reference
//! examples and of other servers' bodies (`tests/fixtures/xml/`), malformed inputs, writer
//! round trips, and property tests that no input panics.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use proptest::prelude::*;
use s3driver::xml::{
    __fuzz_parse_all, parse_error_body, root_element_name, CompleteMultipartUpload,
    CompleteMultipartUploadResult, CompletedPart, CopyObjectResult, CopyPartResult, Delete,
    DeleteError, DeleteResult, DeletedObject, ETag, ErrorResponse, InitiateMultipartUploadResult,
    ListBucketResult, ListMultipartUploadsResult, ListPartsResult, LocationConstraint, Object,
    ObjectIdentifier, Owner, Part, Timestamp, XmlError, MAX_DELETE_OBJECTS,
};

// ---------------------------------------------------------------------------------------
// helpers

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/xml")
}

fn fixture(name: &str) -> Vec<u8> {
    let path = fixtures_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn fixture_str(name: &str) -> String {
    String::from_utf8(fixture(name)).expect("fixtures are UTF-8")
}

/// Every `*.xml` fixture, as (relative path, bytes), sorted by path; read once.
fn all_fixtures() -> &'static [(String, Vec<u8>)] {
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

fn ts(raw: &str) -> Timestamp {
    Timestamp::parse(raw).unwrap_or_else(|e| panic!("{raw:?}: {e}"))
}

fn s(v: &str) -> Option<String> {
    Some(v.to_owned())
}

/// Parses `body` with the parser for `root` (the root element each shape expects).
fn parse_as(root: &str, body: &[u8]) -> Result<(), XmlError> {
    match root {
        "ListBucketResult" => ListBucketResult::parse(body).map(drop),
        "InitiateMultipartUploadResult" => InitiateMultipartUploadResult::parse(body).map(drop),
        "CompleteMultipartUpload" => CompleteMultipartUpload::parse(body).map(drop),
        "CompleteMultipartUploadResult" => CompleteMultipartUploadResult::parse(body).map(drop),
        "ListPartsResult" => ListPartsResult::parse(body).map(drop),
        "ListMultipartUploadsResult" => ListMultipartUploadsResult::parse(body).map(drop),
        "CopyObjectResult" => CopyObjectResult::parse(body).map(drop),
        "CopyPartResult" => CopyPartResult::parse(body).map(drop),
        "Delete" => Delete::parse(body).map(drop),
        "DeleteResult" => DeleteResult::parse(body).map(drop),
        "LocationConstraint" => LocationConstraint::parse(body).map(drop),
        "Error" => ErrorResponse::parse(body).map(drop),
        other => panic!("no parser for <{other}>"),
    }
}

const ROOTS: [&str; 12] = [
    "ListBucketResult",
    "InitiateMultipartUploadResult",
    "CompleteMultipartUpload",
    "CompleteMultipartUploadResult",
    "ListPartsResult",
    "ListMultipartUploadsResult",
    "CopyObjectResult",
    "CopyPartResult",
    "Delete",
    "DeleteResult",
    "LocationConstraint",
    "Error",
];

fn replace(name: &str, from: &str, to: &str) -> Vec<u8> {
    let text = fixture_str(name);
    assert!(text.contains(from), "{name} does not contain {from:?}");
    text.replacen(from, to, 1).into_bytes()
}

// ---------------------------------------------------------------------------------------
// ListObjectsV2 / ListObjects

#[test]
fn aws_list_objects_v2_example_1() {
    let page = ListBucketResult::parse(&fixture("aws/list_objects_v2_ex1.xml")).unwrap();
    let want = ListBucketResult {
        name: s("bucket"),
        prefix: s(""),
        key_count: Some(205),
        max_keys: Some(1000),
        is_truncated: false,
        contents: vec![Object {
            key: "my-image.jpg".into(),
            last_modified: ts("2009-10-12T17:50:30.000Z"),
            etag: Some(ETag::new("\"fba9dede5f27731c9771645a39863328\"")),
            size: 434_234,
            storage_class: s("STANDARD"),
            owner: None,
        }],
        ..ListBucketResult::default()
    };
    assert_eq!(page, want);
    assert_eq!(page.contents[0].last_modified.unix_seconds, 1_255_369_830);
    assert_eq!(
        page.contents[0].etag.as_ref().unwrap().unquoted(),
        "fba9dede5f27731c9771645a39863328"
    );
}

#[test]
fn aws_list_objects_v2_example_2_start_after() {
    let page =
        ListBucketResult::parse(&fixture("aws/list_objects_v2_ex2_start_after.xml")).unwrap();
    assert_eq!(page.name, s("quotes"));
    assert_eq!(page.prefix, s("E"));
    assert_eq!(page.start_after, s("ExampleGuide.pdf"));
    assert_eq!((page.key_count, page.max_keys), (Some(1), Some(3)));
    assert_eq!(page.contents.len(), 1);
    let object = &page.contents[0];
    assert_eq!(object.key, "ExampleObject.txt");
    assert_eq!(object.size, 857);
    assert_eq!(object.storage_class, s("REDUCED_REDUNDANCY"));
    assert_eq!(object.last_modified.unix_seconds, 1_379_441_273);
}

#[test]
fn aws_list_objects_v2_example_3_delimiter() {
    let page = ListBucketResult::parse(&fixture("aws/list_objects_v2_ex3_delimiter.xml")).unwrap();
    assert_eq!(page.delimiter, s("/"));
    assert_eq!(page.prefix, s("photos/2006/"));
    assert_eq!(
        page.common_prefixes,
        vec!["photos/2006/February/", "photos/2006/January/"]
    );
    assert_eq!(page.contents.len(), 1);
    assert_eq!(page.contents[0].key, "photos/2006/");
    assert_eq!(page.contents[0].size, 0);
}

#[test]
fn aws_list_objects_v2_example_4_continuation() {
    let page =
        ListBucketResult::parse(&fixture("aws/list_objects_v2_ex4_continuation.xml")).unwrap();
    assert!(page.is_truncated);
    assert_eq!(
        page.next_continuation_token,
        s("1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=")
    );
    assert_eq!(page.continuation_token, None);
    assert_eq!(page.prefix, s(""));
    assert_eq!(page.contents[0].key, "happyface.jpg");
    assert_eq!(page.contents[0].size, 11);
}

#[test]
fn aws_list_objects_v1() {
    let page = ListBucketResult::parse(&fixture("aws/list_objects_v1.xml")).unwrap();
    assert_eq!(page.marker, s("Ned"));
    assert_eq!(page.key_count, None);
    assert_eq!(page.max_keys, Some(40));
    let keys: Vec<_> = page.contents.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(keys, ["Nelson", "Neo"]);
    assert_eq!(
        page.contents[0].owner,
        Some(Owner {
            id: s("bcaf161ca5fb16fd081034f"),
            display_name: s("webfile"),
        })
    );
    assert_eq!(page.next_marker_v1(), None);
}

#[test]
fn gcs_list_objects_v1_skips_unknown_elements() {
    let page = ListBucketResult::parse(&fixture("servers/gcs_list_objects_v1.xml")).unwrap();
    assert!(page.is_truncated);
    assert_eq!(page.marker, s(""));
    assert_eq!(page.contents.len(), 2);
    assert_eq!(page.contents[1].size, 42);
    assert_eq!(
        page.next_marker_v1(),
        Some("archive/000000010000000000000002")
    );
}

#[test]
fn ceph_and_plain_list_objects_v2() {
    let page = ListBucketResult::parse(&fixture("servers/ceph_list_objects_v2.xml")).unwrap();
    assert_eq!(page.key_count, Some(2));
    assert_eq!(page.common_prefixes, vec!["docker/registry/"]);
    assert_eq!(
        page.contents[0].owner.as_ref().unwrap().display_name,
        s("Registry User")
    );
    assert_eq!(page.contents[0].last_modified.nanos, 890_000_000);

    let page = ListBucketResult::parse(&fixture("servers/plain_list_objects_v2.xml")).unwrap();
    assert_eq!(page.name, s("test"));
    assert_eq!(page.contents[0].key, " spaced key ");
    assert_eq!(
        page.contents[0].etag,
        Some(ETag::new("\"0cc175b9c0f1b6a831c399e269772661\""))
    );
}

#[test]
fn minio_url_encoded_listing_is_decoded() {
    let page = ListBucketResult::parse(&fixture("servers/minio_list_objects_v2_url.xml")).unwrap();
    assert_eq!(page.encoding_type, s("url"));
    assert_eq!(page.prefix, s("docker/run books/"));
    assert_eq!(page.delimiter, s("/"));
    let keys: Vec<_> = page.contents.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "docker/run books/a b.txt",
            "docker/run books/a+b.txt",
            "docker/run books/100%.csv"
        ]
    );
    assert_eq!(page.common_prefixes, vec!["docker/run books/한글/"]);
    // Tokens are never url-encoded: the '+' stays.
    assert_eq!(
        page.next_continuation_token,
        s("1BrjXqRzvfdrOAygvnN0PcXa4pRTXKx3yLpBQyJYP63Eo2tH+XWb5zEHFTGpr8B5lK3TjP/6AQiag==")
    );
    // `&#34;` is a quote.
    assert_eq!(
        page.contents[2].etag,
        Some(ETag::new("\"5d41402abc4b2a76b9719d911017c592-2\""))
    );
    assert_eq!(page.contents[2].last_modified.nanos, 500_000_000);
}

#[test]
fn aws_url_encoded_listing_is_decoded() {
    let page = ListBucketResult::parse(&fixture("servers/aws_list_objects_v2_url.xml")).unwrap();
    let keys: Vec<_> = page.contents.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(keys, ["100%.csv", "a b.txt", "a+b.txt"]);
    assert_eq!(page.common_prefixes, vec!["run books/", "한글/"]);
}

// ---------------------------------------------------------------------------------------
// multipart

#[test]
fn aws_initiate_multipart_upload() {
    let got = InitiateMultipartUploadResult::parse(&fixture("aws/initiate_multipart_upload.xml"))
        .unwrap();
    assert_eq!(
        got,
        InitiateMultipartUploadResult {
            bucket: s("example-bucket"),
            key: s("example-object"),
            upload_id: "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA".into(),
        }
    );
}

fn aws_example_parts() -> Vec<CompletedPart> {
    [
        (1, "\"a54357aff0632cce46d942af68356b38\""),
        (2, "\"0c78aef83f66abc1fa1e8477f296d394\""),
        (3, "\"acbd18db4cc2f85cedef654fccc4a4d8\""),
    ]
    .into_iter()
    .map(|(part_number, etag)| CompletedPart {
        part_number,
        etag: ETag::new(etag),
    })
    .collect()
}

#[test]
fn aws_complete_multipart_upload_request_parses_and_is_rewritten() {
    let got = CompleteMultipartUpload::parse(&fixture("aws/complete_multipart_upload_request.xml"))
        .unwrap();
    assert_eq!(got.parts, aws_example_parts());

    let mut shuffled = aws_example_parts();
    shuffled.reverse();
    let written = CompleteMultipartUpload { parts: shuffled }
        .to_xml()
        .unwrap();
    assert_eq!(
        written,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
         <Part><PartNumber>1</PartNumber><ETag>\"a54357aff0632cce46d942af68356b38\"</ETag></Part>\
         <Part><PartNumber>2</PartNumber><ETag>\"0c78aef83f66abc1fa1e8477f296d394\"</ETag></Part>\
         <Part><PartNumber>3</PartNumber><ETag>\"acbd18db4cc2f85cedef654fccc4a4d8\"</ETag></Part>\
         </CompleteMultipartUpload>"
    );
    assert_eq!(
        CompleteMultipartUpload::parse(written.as_bytes())
            .unwrap()
            .parts,
        aws_example_parts()
    );
}

#[test]
fn aws_sdk_go_v2_complete_request_with_checksums() {
    let got =
        CompleteMultipartUpload::parse(&fixture("servers/aws_sdk_go_v2_complete_request.xml"))
            .unwrap();
    assert_eq!(got.parts, aws_example_parts()[..2]);
}

#[test]
fn aws_complete_multipart_upload_result() {
    let want = CompleteMultipartUploadResult {
        location: s("http://Example-Bucket.s3.amazonaws.com/Example-Object"),
        bucket: s("Example-Bucket"),
        key: s("Example-Object"),
        etag: Some(ETag::new("\"3858f62230ac3c915f300c664312c11f-9\"")),
    };
    let body = fixture("aws/complete_multipart_upload_result.xml");
    assert_eq!(parse_error_body(&body), None);
    assert_eq!(CompleteMultipartUploadResult::parse(&body).unwrap(), want);

    let padded = fixture("servers/aws_complete_multipart_upload_padded.xml");
    assert_eq!(
        root_element_name(&padded).as_deref(),
        Some("CompleteMultipartUploadResult")
    );
    let got = CompleteMultipartUploadResult::parse(&padded).unwrap();
    assert_eq!(got.etag, want.etag);
    assert_eq!(got.key, s("docker/data"));
}

#[test]
fn errors_inside_200_answers_are_detected() {
    let body = fixture("aws/complete_multipart_upload_error_in_200.xml");
    assert_eq!(root_element_name(&body).as_deref(), Some("Error"));
    let error = parse_error_body(&body).expect("an <Error> root");
    assert_eq!(error.code, "InternalError");
    assert_eq!(
        error.message,
        "We encountered an internal error. Please try again."
    );
    assert_eq!(error.request_id, s("656c76696e6727732072657175657374"));
    assert_eq!(
        error.host_id,
        s("Uuag1LuByRx9e6j5Onimru9pO4ZVKnJ2Qz7/C1NPcfTWAtRPfTaOFg==")
    );
    assert_eq!(
        CompleteMultipartUploadResult::parse(&body).unwrap_err(),
        XmlError::WrongRoot {
            expected: "CompleteMultipartUploadResult",
            found: "Error".into()
        }
    );

    let padded = fixture("servers/aws_error_in_200_padded.xml");
    let error = parse_error_body(&padded).expect("an <Error> root");
    assert_eq!(error.code, "SlowDown");
    for root in [
        "CopyObjectResult",
        "CopyPartResult",
        "CompleteMultipartUploadResult",
    ] {
        assert!(matches!(
            parse_as(root, &padded),
            Err(XmlError::WrongRoot { .. })
        ));
    }
    // A truncated error body is still an error body.
    let cut = &padded[..padded.len() - 40];
    assert_eq!(parse_error_body(cut).unwrap().code, "SlowDown");
}

#[test]
fn aws_list_parts() {
    let got = ListPartsResult::parse(&fixture("aws/list_parts.xml")).unwrap();
    let want = ListPartsResult {
        bucket: s("example-bucket"),
        key: s("example-object"),
        upload_id: s("XXBsb2FkIElEIGZvciBlbHZpbmcncyVcdS1tb3ZpZS5tMnRzEEEwbG9hZA"),
        part_number_marker: Some(1),
        next_part_number_marker: Some(3),
        max_parts: Some(2),
        is_truncated: true,
        storage_class: s("STANDARD"),
        encoding_type: None,
        parts: vec![
            Part {
                part_number: 2,
                last_modified: Some(ts("2010-11-10T20:48:34.000Z")),
                etag: Some(ETag::new("\"7778aef83f66abc1fa1e8477f296d394\"")),
                size: 10_485_760,
            },
            Part {
                part_number: 3,
                last_modified: Some(ts("2010-11-10T20:48:33.000Z")),
                etag: Some(ETag::new("\"aaaa18db4cc2f85cedef654fccc4a4x8\"")),
                size: 10_485_760,
            },
        ],
    };
    assert_eq!(got, want);
}

#[test]
fn minio_list_parts() {
    let got = ListPartsResult::parse(&fixture("servers/minio_list_parts.xml")).unwrap();
    assert_eq!(got.part_number_marker, Some(0));
    assert_eq!(got.next_part_number_marker, Some(2));
    assert!(!got.is_truncated);
    let sizes: Vec<_> = got.parts.iter().map(|p| (p.part_number, p.size)).collect();
    assert_eq!(sizes, [(1, 5_242_880), (2, 17)]);
    assert_eq!(
        got.parts[0]
            .etag
            .as_ref()
            .map(ETag::as_str)
            .unwrap_or_default(),
        "\"5d41402abc4b2a76b9719d911017c592\""
    );
}

#[test]
fn aws_list_multipart_uploads() {
    let got =
        ListMultipartUploadsResult::parse(&fixture("aws/list_multipart_uploads.xml")).unwrap();
    assert_eq!(got.bucket, s("bucket"));
    assert_eq!(
        (got.key_marker.as_deref(), got.upload_id_marker.as_deref()),
        (Some(""), Some(""))
    );
    assert_eq!(got.next_key_marker, s("my-movie.m2ts"));
    assert_eq!(
        got.next_upload_id_marker,
        s("YW55IGlkZWEgd2h5IGVsdmluZydzIHVwbG9hZCBmYWlsZWQ")
    );
    assert_eq!(got.max_uploads, Some(3));
    assert!(got.is_truncated);
    let uploads: Vec<_> = got
        .uploads
        .iter()
        .map(|u| (u.key.as_str(), u.upload_id.as_str()))
        .collect();
    assert_eq!(
        uploads,
        [
            (
                "my-divisor",
                "XMgbGlrZSBlbHZpbmcncyBub3QgaGF2aW5nIG11Y2ggbHVjaw"
            ),
            (
                "my-movie.m2ts",
                "VXBsb2FkIElEIGZvciBlbHZpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA"
            ),
            (
                "my-movie.m2ts",
                "YW55IGlkZWEgd2h5IGVsdmluZydzIHVwbG9hZCBmYWlsZWQ"
            ),
        ]
    );
    assert_eq!(
        got.uploads[2].initiated,
        Some(ts("2010-11-10T20:49:33.000Z"))
    );
    assert_eq!(got.uploads[2].storage_class, s("STANDARD"));

    let got = ListMultipartUploadsResult::parse(&fixture(
        "aws/list_multipart_uploads_prefix_delimiter.xml",
    ))
    .unwrap();
    assert!(got.uploads.is_empty());
    assert_eq!(got.next_key_marker, s(""));
    assert_eq!(
        got.common_prefixes,
        vec![
            "photos/2006/February/",
            "photos/2006/January/",
            "photos/2006/March/"
        ]
    );
}

#[test]
fn minio_url_encoded_upload_listing() {
    let got =
        ListMultipartUploadsResult::parse(&fixture("servers/minio_list_multipart_uploads_url.xml"))
            .unwrap();
    assert_eq!(got.prefix, s("docker/a b/"));
    assert_eq!(got.next_key_marker, s("docker/a b/data"));
    assert_eq!(got.delimiter, s(""));
    assert_eq!(got.uploads[0].key, "docker/a b/data");
    assert_eq!(got.uploads[0].upload_id, "ZjZhMzc2ZGUtNWM0Ni00YjQ4+LWE4ZGM");
    assert_eq!(
        got.next_upload_id_marker,
        s("ZjZhMzc2ZGUtNWM0Ni00YjQ4+LWE4ZGM")
    );
}

// ---------------------------------------------------------------------------------------
// copy, delete, location, errors

#[test]
fn aws_copy_results() {
    let got = CopyObjectResult::parse(&fixture("aws/copy_object_result.xml")).unwrap();
    assert_eq!(got.etag, ETag::new("\"9b2cf535f27731c974343645a3985328\""));
    let when = got.last_modified.unwrap();
    assert_eq!(
        (when.raw.as_str(), when.unix_seconds),
        ("2009-10-28T22:32:00", 1_256_769_120)
    );

    let got = CopyPartResult::parse(&fixture("aws/copy_part_result.xml")).unwrap();
    assert_eq!(got.etag.unquoted(), "9b2cf535f27731c974343645a3985328");

    let got = CopyObjectResult::parse(&fixture("servers/minio_copy_object_result.xml")).unwrap();
    assert_eq!(got.etag.as_str(), "\"5d41402abc4b2a76b9719d911017c592\"");

    assert_eq!(
        CopyPartResult::parse(
            b"<CopyPartResult><LastModified>2009-10-28T22:32:00Z</LastModified></CopyPartResult>"
        )
        .unwrap_err(),
        XmlError::MissingField {
            parent: "CopyPartResult",
            field: "ETag"
        }
    );
}

fn id(key: &str, version_id: Option<&str>) -> ObjectIdentifier {
    ObjectIdentifier {
        key: key.into(),
        version_id: version_id.map(Into::into),
    }
}

#[test]
fn aws_delete_requests() {
    let got = Delete::parse(&fixture("aws/delete_objects_request.xml")).unwrap();
    assert_eq!(
        got,
        Delete {
            quiet: false,
            objects: vec![id("sample1.txt", None), id("sample2.txt", None)],
        }
    );
    assert_eq!(
        got.to_xml().unwrap(),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
         <Quiet>false</Quiet><Object><Key>sample1.txt</Key></Object><Object><Key>sample2.txt</Key></Object></Delete>"
    );

    let got = Delete::parse(&fixture("aws/delete_objects_request_versioned.xml")).unwrap();
    assert_eq!(
        got.objects,
        vec![id(
            "SampleDocument.txt",
            Some("OYcLXagmS.WaD..oyH4KRguB95_YhLs7")
        )]
    );
    let written = got.to_xml().unwrap();
    assert!(written.contains("<Object><Key>SampleDocument.txt</Key><VersionId>OYcLXagmS.WaD..oyH4KRguB95_YhLs7</VersionId></Object>"));

    let got = Delete::parse(&fixture("aws/delete_objects_request_carriage_return.xml")).unwrap();
    assert_eq!(
        got.objects,
        vec![id("/some/prefix/objectwith\rcarriagereturn", None)]
    );
    let written = Delete {
        quiet: true,
        ..got.clone()
    }
    .to_xml()
    .unwrap();
    assert!(written.contains(
        "<Quiet>true</Quiet><Object><Key>/some/prefix/objectwith&#13;carriagereturn</Key></Object>"
    ));
    assert_eq!(
        Delete::parse(written.as_bytes()).unwrap().objects,
        got.objects
    );
}

#[test]
fn delete_writer_refuses_bad_requests() {
    let one = |key: &str| Delete {
        quiet: false,
        objects: vec![id(key, None)],
    };
    assert!(matches!(
        Delete::default().to_xml(),
        Err(XmlError::InvalidRequest { .. })
    ));
    assert!(matches!(
        one("").to_xml(),
        Err(XmlError::InvalidRequest { .. })
    ));
    assert_eq!(
        one("bad\u{1}key").to_xml().unwrap_err(),
        XmlError::Unrepresentable {
            field: "Key",
            character: '\u{1}'
        }
    );
    let version = Delete {
        quiet: false,
        objects: vec![id("k", Some("v\u{FFFF}"))],
    };
    assert!(matches!(
        version.to_xml(),
        Err(XmlError::Unrepresentable {
            field: "VersionId",
            ..
        })
    ));
    let keys = |n: usize| Delete {
        quiet: true,
        objects: (0..n).map(|i| id(&format!("k{i}"), None)).collect(),
    };
    assert!(keys(MAX_DELETE_OBJECTS).to_xml().is_ok());
    assert!(matches!(
        keys(MAX_DELETE_OBJECTS + 1).to_xml(),
        Err(XmlError::InvalidRequest { .. })
    ));
}

#[test]
fn aws_delete_results() {
    let got = DeleteResult::parse(&fixture("aws/delete_result_mixed.xml")).unwrap();
    assert_eq!(
        got,
        DeleteResult {
            deleted: vec![DeletedObject {
                key: "sample1.txt".into(),
                version_id: None,
                delete_marker: false,
                delete_marker_version_id: None,
            }],
            errors: vec![DeleteError {
                key: "sample2.txt".into(),
                code: "AccessDenied".into(),
                message: s("Access Denied"),
                version_id: None,
            }],
        }
    );

    let got = DeleteResult::parse(&fixture("aws/delete_result_delete_marker_added.xml")).unwrap();
    assert!(got.deleted[0].delete_marker);
    assert_eq!(
        got.deleted[0].delete_marker_version_id,
        s("NeQt5xeFTfgPJD8B4CGWnkSLtluMr11s")
    );
    assert_eq!(got.deleted[0].version_id, None);

    let got = DeleteResult::parse(&fixture("aws/delete_result_versioned.xml")).unwrap();
    assert_eq!(
        got.deleted[0].version_id,
        s("OYcLXagmS.WaD..oyH4KRguB95_YhLs7")
    );
    assert!(!got.deleted[0].delete_marker);

    let got = DeleteResult::parse(&fixture("aws/delete_result_delete_marker_removed.xml")).unwrap();
    let deleted = &got.deleted[0];
    assert_eq!(deleted.version_id, deleted.delete_marker_version_id);
    assert!(deleted.delete_marker);
    assert!(got.errors.is_empty());
}

#[test]
fn aws_delete_malformed_xml_error_keeps_message_whitespace() {
    let body = fixture("aws/delete_objects_malformed_xml_error.xml");
    let error = parse_error_body(&body).unwrap();
    assert_eq!(error.code, "MalformedXML");
    assert_eq!(
        error.message,
        "The XML you provided was not well-formed or did not\n        validate against our published schema"
    );
    assert_eq!(ErrorResponse::parse(&body).unwrap(), error);
    assert!(matches!(
        DeleteResult::parse(&body),
        Err(XmlError::WrongRoot { .. })
    ));
}

#[test]
fn bucket_locations() {
    for (name, raw, region) in [
        ("aws/get_bucket_location.xml", "Europe", "Europe"),
        ("servers/aws_location_us_east_1.xml", "", "us-east-1"),
        ("servers/aws_location_eu.xml", "EU", "eu-west-1"),
    ] {
        let got = LocationConstraint::parse(&fixture(name)).unwrap();
        assert_eq!(
            (got.raw.as_str(), got.region.as_str()),
            (raw, region),
            "{name}"
        );
    }
}

#[test]
fn error_bodies() {
    let got = ErrorResponse::parse(&fixture("aws/error_no_such_key.xml")).unwrap();
    assert_eq!(
        got,
        ErrorResponse {
            code: "NoSuchKey".into(),
            message: "The resource you requested does not exist".into(),
            request_id: s("4442587FB7D0A2F9"),
            resource: s("/mybucket/myfoto.jpg"),
            ..ErrorResponse::default()
        }
    );

    let got = ErrorResponse::parse(&fixture("servers/minio_error.xml")).unwrap();
    assert_eq!(got.key, s("docker/registry/v2/repositories/x/_layers"));
    assert_eq!(got.bucket_name, s("registry"));
    assert_eq!(got.get("Region"), Some("us-east-1"));
    assert_eq!(
        got.to_string(),
        "NoSuchKey: The specified key does not exist. (request id 17C1D2E3F4A5B6C7)"
    );

    let got = ErrorResponse::parse(&fixture("servers/aws_error_permanent_redirect.xml")).unwrap();
    assert_eq!(
        got.get("Endpoint"),
        Some("registry.s3.eu-west-1.amazonaws.com")
    );
    assert_eq!(got.get("Bucket"), Some("registry"));
    assert_eq!(
        parse_error_body(&fixture("servers/aws_error_permanent_redirect.xml")),
        Some(got)
    );
}

// ---------------------------------------------------------------------------------------
// every fixture: root detection, wrong roots, truncation

#[test]
fn every_fixture_parses_with_its_root_parser_only() {
    for (name, body) in all_fixtures() {
        let root = root_element_name(body).unwrap_or_else(|| panic!("{name}: no root"));
        assert!(
            ROOTS.contains(&root.as_str()),
            "{name}: unexpected root {root}"
        );
        for candidate in ROOTS {
            let result = parse_as(candidate, body);
            if candidate == root {
                assert!(
                    result.is_ok(),
                    "{name} as <{candidate}>: {}",
                    result.unwrap_err()
                );
            } else {
                assert_eq!(
                    result.unwrap_err(),
                    XmlError::WrongRoot {
                        expected: candidate,
                        found: root.clone()
                    },
                    "{name} as <{candidate}>"
                );
            }
        }
        assert_eq!(parse_error_body(body).is_some(), root == "Error", "{name}");
        __fuzz_parse_all(body);
    }
}

#[test]
fn every_truncation_of_every_fixture_is_an_error() {
    for (name, body) in all_fixtures() {
        let root = root_element_name(body).unwrap();
        let end = body.iter().rposition(|&b| b == b'>').unwrap() + 1;
        for cut in 0..end {
            let result = parse_as(&root, &body[..cut]);
            assert!(
                result.is_err(),
                "{name} cut at {cut} parsed: {:?}",
                String::from_utf8_lossy(&body[..cut])
            );
        }
        // Trailing whitespace after the root is fine.
        assert!(parse_as(&root, &body[..end]).is_ok(), "{name}");
    }
}

// ---------------------------------------------------------------------------------------
// malformed inputs

#[test]
fn bad_numbers_booleans_and_times_name_the_field() {
    let ex1 = "aws/list_objects_v2_ex1.xml";
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            replace(ex1, "<Size>434234</Size>", "<Size>434x234</Size>"),
            "Size",
        ),
        (
            replace(ex1, "<Size>434234</Size>", "<Size>-1</Size>"),
            "Size",
        ),
        (
            replace(
                ex1,
                "<Size>434234</Size>",
                "<Size>18446744073709551616</Size>",
            ),
            "Size",
        ),
        (
            replace(ex1, "<MaxKeys>1000</MaxKeys>", "<MaxKeys>1e3</MaxKeys>"),
            "MaxKeys",
        ),
        (
            replace(
                ex1,
                "<KeyCount>205</KeyCount>",
                "<KeyCount>4294967296</KeyCount>",
            ),
            "KeyCount",
        ),
        (
            replace(
                ex1,
                "<IsTruncated>false</IsTruncated>",
                "<IsTruncated>maybe</IsTruncated>",
            ),
            "IsTruncated",
        ),
        (
            replace(ex1, "2009-10-12T17:50:30.000Z", "2009-13-12T17:50:30.000Z"),
            "LastModified",
        ),
        (
            replace(
                ex1,
                "2009-10-12T17:50:30.000Z",
                "Mon, 12 Oct 2009 17:50:30 GMT",
            ),
            "LastModified",
        ),
    ];
    for (body, field) in cases {
        let err = ListBucketResult::parse(&body).unwrap_err();
        match &err {
            XmlError::InvalidValue { field: got, .. } => assert_eq!(*got, field, "{err}"),
            other => panic!("expected InvalidValue for {field}, got {other:?}"),
        }
        assert!(err.to_string().contains(&format!("<{field}>")), "{err}");
    }
    let body = replace(
        "aws/list_parts.xml",
        "<PartNumber>2</PartNumber>",
        "<PartNumber>two</PartNumber>",
    );
    assert!(matches!(
        ListPartsResult::parse(&body),
        Err(XmlError::InvalidValue {
            field: "PartNumber",
            ..
        })
    ));
    let body = replace(
        "aws/list_multipart_uploads.xml",
        "2010-11-10T20:49:33.000Z",
        "yesterday",
    );
    assert!(matches!(
        ListMultipartUploadsResult::parse(&body),
        Err(XmlError::InvalidValue {
            field: "Initiated",
            ..
        })
    ));
}

#[test]
fn duplicate_single_valued_fields_are_errors() {
    let ex1 = "aws/list_objects_v2_ex1.xml";
    let cases = [
        (
            replace(
                ex1,
                "<IsTruncated>false</IsTruncated>",
                "<IsTruncated>false</IsTruncated><IsTruncated>true</IsTruncated>",
            ),
            "ListBucketResult",
            "IsTruncated",
        ),
        (
            replace(ex1, "<Key>my-image.jpg</Key>", "<Key>a</Key><Key>b</Key>"),
            "Contents",
            "Key",
        ),
        (
            replace(ex1, "<Size>434234</Size>", "<Size>1</Size><Size>2</Size>"),
            "Contents",
            "Size",
        ),
        (
            replace(ex1, "<Name>bucket</Name>", "<Name>a</Name><Name>a</Name>"),
            "ListBucketResult",
            "Name",
        ),
    ];
    for (body, parent, field) in cases {
        assert_eq!(
            ListBucketResult::parse(&body).unwrap_err(),
            XmlError::DuplicateField { parent, field }
        );
    }
    let body = replace(
        "aws/list_parts.xml",
        "<Size>10485760</Size>",
        "<Size>1</Size><Size>1</Size>",
    );
    assert_eq!(
        ListPartsResult::parse(&body).unwrap_err(),
        XmlError::DuplicateField {
            parent: "Part",
            field: "Size"
        }
    );
}

#[test]
fn missing_required_fields_are_errors() {
    let ex1 = "aws/list_objects_v2_ex1.xml";
    let cases = [
        (
            replace(ex1, "<Key>my-image.jpg</Key>", ""),
            "Contents",
            "Key",
        ),
        (replace(ex1, "<Size>434234</Size>", ""), "Contents", "Size"),
        (
            replace(ex1, "<Size>434234</Size>", "<Size/>"),
            "Contents",
            "Size",
        ),
        (
            replace(
                ex1,
                "<LastModified>2009-10-12T17:50:30.000Z</LastModified>",
                "",
            ),
            "Contents",
            "LastModified",
        ),
        (
            replace(ex1, "<IsTruncated>false</IsTruncated>", ""),
            "ListBucketResult",
            "IsTruncated",
        ),
    ];
    for (body, parent, field) in cases {
        assert_eq!(
            ListBucketResult::parse(&body).unwrap_err(),
            XmlError::MissingField { parent, field }
        );
    }
    let body = replace(
        "aws/list_multipart_uploads.xml",
        "<UploadId>XMgbGlrZSBlbHZpbmcncyBub3QgaGF2aW5nIG11Y2ggbHVjaw</UploadId>",
        "",
    );
    assert_eq!(
        ListMultipartUploadsResult::parse(&body).unwrap_err(),
        XmlError::MissingField {
            parent: "Upload",
            field: "UploadId"
        }
    );
    let body = replace(
        "aws/delete_result_mixed.xml",
        "<Code>AccessDenied</Code>",
        "",
    );
    assert_eq!(
        DeleteResult::parse(&body).unwrap_err(),
        XmlError::MissingField {
            parent: "Error",
            field: "Code"
        }
    );
    let body = replace(
        "aws/list_parts.xml",
        "<ETag>\"7778aef83f66abc1fa1e8477f296d394\"</ETag>",
        "",
    );
    // A Part without ETag parses (s3s-fs omits them); the ETag is reported as unknown.
    let parsed = ListPartsResult::parse(&body).unwrap();
    assert_eq!(parsed.parts[0].etag, None);
    let body = replace("aws/list_parts.xml", "<Size>10485760</Size>", "");
    assert!(matches!(
        ListPartsResult::parse(&body).unwrap_err(),
        XmlError::MissingField {
            parent: "Part",
            field: "Size"
        }
    ));
}

#[test]
fn malformed_structure_and_encoding_are_errors() {
    let ex1 = "aws/list_objects_v2_ex1.xml";
    let syntax = [
        replace(ex1, "</Key>", "</Kee>"),
        replace(ex1, "&quot;fba9", "&quote;fba9"),
        replace(ex1, "<Contents>", "<Contents"),
        replace(ex1, "<Size>434234</Size>", "<Size>434234</Size"),
    ];
    for body in syntax {
        assert!(
            ListBucketResult::parse(&body).is_err(),
            "{}",
            String::from_utf8_lossy(&body)
        );
    }
    assert!(matches!(
        ListBucketResult::parse(&replace(ex1, "<Name>", "stray text<Name>")),
        Err(XmlError::UnexpectedContent { .. })
    ));
    assert!(matches!(
        ListBucketResult::parse(&replace(
            ex1,
            "<Key>my-image.jpg</Key>",
            "<Key>my<b/>image</Key>"
        )),
        Err(XmlError::UnexpectedContent { .. })
    ));
    let mut twice = fixture(ex1);
    twice.extend_from_slice(&fixture(ex1));
    assert!(ListBucketResult::parse(&twice).is_err());
    let mut trailing = fixture(ex1);
    trailing.extend_from_slice(b"<extra/>");
    assert_eq!(
        ListBucketResult::parse(&trailing).unwrap_err(),
        XmlError::TrailingContent
    );
    let mut latin1 = fixture(ex1);
    let at = latin1.windows(3).position(|w| w == b"my-").unwrap();
    latin1[at] = 0xE9;
    assert!(matches!(
        ListBucketResult::parse(&latin1),
        Err(XmlError::Syntax { .. })
    ));

    let url = "servers/aws_list_objects_v2_url.xml";
    let body = replace(url, "a%2Bb.txt", "a%2Gb.txt");
    assert!(matches!(
        ListBucketResult::parse(&body),
        Err(XmlError::InvalidValue { field: "Key", .. })
    ));
    let body = replace(url, "<Prefix>run+books/</Prefix>", "<Prefix>%FF/</Prefix>");
    assert!(matches!(
        ListBucketResult::parse(&body),
        Err(XmlError::InvalidValue {
            field: "Prefix",
            ..
        })
    ));
    let body = replace(
        url,
        "<EncodingType>url</EncodingType>",
        "<EncodingType>base64</EncodingType>",
    );
    assert!(matches!(
        ListBucketResult::parse(&body),
        Err(XmlError::InvalidValue {
            field: "EncodingType",
            ..
        })
    ));
    // Without EncodingType the same keys are taken literally.
    let body = replace(url, "<EncodingType>url</EncodingType>", "");
    assert_eq!(
        ListBucketResult::parse(&body).unwrap().contents[1].key,
        "a+b.txt"
    );
}

#[test]
fn namespaces_and_prefixes_are_ignored() {
    let body = fixture_str("aws/list_parts.xml")
        .replace("<ListPartsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">", "<s3:ListPartsResult xmlns:s3=\"http://s3.amazonaws.com/doc/2006-03-01/\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">")
        .replace("</ListPartsResult>", "</s3:ListPartsResult>")
        .replace("<Part>", "<s3:Part>")
        .replace("</Part>", "</s3:Part>");
    let prefixed = ListPartsResult::parse(body.as_bytes()).unwrap();
    assert_eq!(
        prefixed,
        ListPartsResult::parse(&fixture("aws/list_parts.xml")).unwrap()
    );
}

// ---------------------------------------------------------------------------------------
// property tests

/// Mirrors XML 1.0's `Char` production.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Characters that XML 1.0 can carry, biased towards the ones that need escaping.
fn xml_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => any::<char>().prop_filter("XML 1.0 character", |c| is_xml_char(*c)),
        2 => prop::sample::select(vec!['&', '<', '>', '"', '\'', ';', '#', ']', '\r', '\n', '\t', ' ', '%', '+']),
        2 => prop::char::range('a', 'z'),
        1 => prop::sample::select(vec!['é', '한', '🦀', '\u{FFFD}', '\u{85}', '\u{2028}']),
    ]
}

fn xml_string(min: usize, max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(xml_char(), min..max).prop_map(String::from_iter)
}

/// Edits applied to a fixture to make near-valid inputs.
#[derive(Debug, Clone)]
enum Edit {
    Set(prop::sample::Index, u8),
    Remove(prop::sample::Index),
    Insert(prop::sample::Index, &'static str),
}

fn edit() -> impl Strategy<Value = Edit> {
    const TOKENS: &[&str] = &[
        "<",
        ">",
        "</",
        "/>",
        "&",
        "&amp;",
        "&#",
        "&#x110000;",
        "&#0;",
        ";",
        "\"",
        "<Key>",
        "</Key>",
        "<Contents>",
        "</Contents>",
        "<Size>9</Size>",
        "<IsTruncated>true</IsTruncated>",
        "<![CDATA[x]]>",
        "<!--",
        "-->",
        "<?xml version=\"1.0\"?>",
        "<!DOCTYPE x>",
        "\u{0}",
        "\u{FEFF}",
        "%",
        "%2",
        "+",
        "\r\n",
    ];
    prop_oneof![
        (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
        any::<prop::sample::Index>().prop_map(Edit::Remove),
        (any::<prop::sample::Index>(), prop::sample::select(TOKENS))
            .prop_map(|(i, t)| Edit::Insert(i, t)),
    ]
}

fn apply(mut body: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for edit in edits {
        match edit {
            Edit::Set(at, byte) if !body.is_empty() => {
                let i = at.index(body.len());
                body[i] = *byte;
            }
            Edit::Remove(at) if !body.is_empty() => {
                let i = at.index(body.len());
                body.remove(i);
            }
            Edit::Insert(at, token) => {
                let i = at.index(body.len() + 1);
                body.splice(i..i, token.bytes());
            }
            _ => {}
        }
    }
    body
}

/// Form-encodes like MinIO's `s3URLEncode` (space as `+`, `/` and `*` kept).
fn form_encode(value: &str) -> String {
    let mut out = String::new();
    for &b in value.as_bytes() {
        match b {
            b' ' => out.push('+'),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' | b'*' => {
                out.push(char::from(b))
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..600)) {
        __fuzz_parse_all(&data);
    }

    #[test]
    fn xml_like_bytes_never_panic(data in prop::collection::vec(
        prop_oneof![
            prop::sample::select(b"<>/&;=\"'?!-[]#x: \n".to_vec()),
            prop::sample::select(b"ErrorKeySizeETagPartListBucketResultContents".to_vec()),
            any::<u8>(),
        ],
        0..300,
    )) {
        __fuzz_parse_all(&data);
    }

    #[test]
    fn mutated_fixtures_never_panic(
        pick in any::<prop::sample::Index>(),
        edits in prop::collection::vec(edit(), 1..6),
    ) {
        let fixtures = all_fixtures();
        let (_, body) = &fixtures[pick.index(fixtures.len())];
        __fuzz_parse_all(&apply(body.clone(), &edits));
    }

}

proptest! {
    // Generating long random strings is slow in debug builds; fewer, larger cases.
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn delete_bodies_round_trip(
        quiet in any::<bool>(),
        objects in prop::collection::vec((xml_string(1, 40), prop::option::of(xml_string(0, 20))), 1..25),
    ) {
        let delete = Delete {
            quiet,
            objects: objects
                .into_iter()
                .map(|(key, version_id)| ObjectIdentifier { key, version_id })
                .collect(),
        };
        let xml = delete.to_xml().unwrap();
        prop_assert_eq!(Delete::parse(xml.as_bytes()).unwrap(), delete);
    }

    #[test]
    fn delete_refuses_characters_xml_cannot_carry(
        before in xml_string(0, 10),
        bad in prop_oneof![prop::char::range('\u{0}', '\u{8}'), prop::sample::select(vec!['\u{B}', '\u{C}', '\u{FFFE}', '\u{FFFF}']), prop::char::range('\u{E}', '\u{1F}')],
        after in xml_string(0, 10),
    ) {
        let delete = Delete { quiet: false, objects: vec![ObjectIdentifier { key: format!("{before}{bad}{after}"), version_id: None }] };
        prop_assert_eq!(delete.to_xml().unwrap_err(), XmlError::Unrepresentable { field: "Key", character: bad });
    }

    #[test]
    fn complete_bodies_round_trip_in_ascending_order(
        parts in prop::collection::hash_set(1u32..=10_000, 1..40)
            .prop_flat_map(|numbers| {
                let numbers: Vec<u32> = numbers.into_iter().collect();
                let n = numbers.len();
                (Just(numbers).prop_shuffle(), prop::collection::vec(xml_string(0, 24), n))
            }),
    ) {
        let (numbers, etags) = parts;
        let complete = CompleteMultipartUpload {
            parts: numbers
                .into_iter()
                .zip(etags)
                .map(|(part_number, etag)| CompletedPart { part_number, etag: ETag::new(etag) })
                .collect(),
        };
        let xml = complete.to_xml().unwrap();
        let back = CompleteMultipartUpload::parse(xml.as_bytes()).unwrap();
        let mut sorted = complete.parts.clone();
        sorted.sort_by_key(|p| p.part_number);
        prop_assert_eq!(back.parts, sorted);
    }

    #[test]
    fn url_encoded_listings_decode_any_key(keys in prop::collection::vec(any::<String>(), 1..8), prefix in any::<String>()) {
        let mut body = format!(
            "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Prefix>{}</Prefix><IsTruncated>false</IsTruncated>",
            form_encode(&prefix)
        );
        for key in &keys {
            body.push_str(&format!(
                "<Contents><Key>{}</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified><Size>1</Size></Contents>",
                form_encode(key)
            ));
        }
        body.push_str("<EncodingType>url</EncodingType></ListBucketResult>");
        let page = ListBucketResult::parse(body.as_bytes()).unwrap();
        prop_assert_eq!(page.prefix, Some(prefix));
        let got: Vec<String> = page.contents.into_iter().map(|o| o.key).collect();
        prop_assert_eq!(got, keys);
    }

    #[test]
    fn timestamps_round_trip(secs in -62_167_219_200i64..=253_402_300_799, millis in 0u32..1000) {
        let written = Timestamp::from_unix(secs, millis * 1_000_000);
        let back = Timestamp::parse(&written.raw).unwrap();
        prop_assert_eq!((back.unix_seconds, back.nanos), (secs, millis * 1_000_000));
    }
}
