//! Unit tests of the XML codec that need its crate-private items (request bodies, error
//! bodies, `GetBucketLocation`, `CreateMultipartUpload`, `root_element_name`): golden parses
//! of `tests/fixtures/xml/`, the writers, and the every-fixture root and truncation checks.
//! The tests that need only public types are in `tests/xml_codec.rs`.

use proptest::prelude::*;

use super::{
    parse_all_checked, parse_error_body, root_element_name, CompleteMultipartUpload,
    CompleteMultipartUploadResult, CompletedPart, CopyObjectResult, CopyPartResult, Delete,
    DeleteError, DeleteResult, DeletedObject, ETag, ErrorResponse, InitiateMultipartUploadResult,
    ListBucketResult, ListMultipartUploadsResult, ListPartsResult, LocationConstraint, Object,
    ObjectIdentifier, Owner, Part, Timestamp, XmlError, MAX_DELETE_OBJECTS,
};

// ---------------------------------------------------------------------------------------
// helpers

#[path = "../../tests/common/xml_fixtures.rs"]
mod xml_fixtures;
use xml_fixtures::{all_fixtures, fixture};

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

// ---------------------------------------------------------------------------------------
// root detection and the fuzz entry (formerly inline in src/xml/mod.rs)

#[test]
fn root_names() {
    assert_eq!(
        root_element_name(b"\n<?xml version=\"1.0\"?><Error/>").as_deref(),
        Some("Error")
    );
    assert_eq!(
        root_element_name(b"<s3:ListBucketResult xmlns:s3=\"x\">").as_deref(),
        Some("ListBucketResult")
    );
    assert_eq!(
        root_element_name(b"<!-- c --><CopyObjectResult>trunc").as_deref(),
        Some("CopyObjectResult")
    );
    assert_eq!(root_element_name(b""), None);
    assert_eq!(root_element_name(b"garbage"), None);
    assert_eq!(root_element_name(b"<?xml version=\"1.0\"?>"), None);
}

#[test]
fn fuzz_entry_survives_odd_inputs() {
    for input in [
        &b""[..],
        b"<",
        b"<Delete><Object><Key>a</Key></Object></Delete>",
        b"<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>x</ETag></Part><Part><PartNumber>1</PartNumber><ETag>y</ETag></Part></CompleteMultipartUpload>",
        b"2009-10-12T17:50:30.123456Z",
        b"0000-01-01T00:00:00+01:00",
        b"\xff\xfe<\x00",
    ] {
        parse_all_checked(input);
    }
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

// ---------------------------------------------------------------------------------------
// delete, location, errors

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
        parse_all_checked(body);
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
}

// ---------------------------------------------------------------------------------------
// property tests

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

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..600)) {
        parse_all_checked(&data);
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
        parse_all_checked(&data);
    }

    #[test]
    fn mutated_fixtures_never_panic(
        pick in any::<prop::sample::Index>(),
        edits in prop::collection::vec(edit(), 1..6),
    ) {
        let fixtures = all_fixtures();
        let (_, body) = &fixtures[pick.index(fixtures.len())];
        parse_all_checked(&apply(body.clone(), &edits));
    }

}

// ---------------------------------------------------------------------------------------
// golden parses compared as whole values (the result types are #[non_exhaustive], so only
// this crate can write them out)

fn ts(raw: &str) -> Timestamp {
    Timestamp::parse(raw).unwrap_or_else(|e| panic!("{raw:?}: {e}"))
}

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
