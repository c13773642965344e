//! The client as a library user meets it: `S3Client::builder()` and the ListObjectsV2 pager,
//! against servers that verify signatures (s3s-fs in process; Swift's s3api and Ceph RGW
//! when running). The crate docs' snippets (put, get, list, multipart, presign, delete) run
//! here for real.

mod common;

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::TryStreamExt;
use s3driver::client::{
    AddressingStyle, ErrorKind, ListObjectsV2Request, RetryConfig, S3Client, WriteOptions,
};
use s3driver::xml::CompletedPart;

fn client(target: &common::S3Target, bucket: &str) -> S3Client {
    S3Client::builder()
        .endpoint(&target.endpoint)
        .region(&target.region)
        .bucket(bucket)
        .addressing_style(AddressingStyle::Path)
        .static_credentials(&target.access_key, &target.secret_key)
        .retry(RetryConfig::disabled())
        .connect_timeout(Duration::from_secs(5))
        .read_timeout(Duration::from_secs(30))
        .build()
        .expect("builder")
}

/// Every key of a listing with page size `max_keys`, through `next_page`, and the number of
/// pages it took.
async fn list_all(c: &S3Client, prefix: &str, max_keys: u32) -> (Vec<String>, usize) {
    let mut pages = c.list_objects_v2_pages(
        ListObjectsV2Request::default()
            .with_prefix(prefix.to_owned())
            .with_max_keys(max_keys),
    );
    let (mut keys, mut n) = (Vec::new(), 0);
    while let Some(page) = pages.next_page().await.expect("page") {
        n += 1;
        keys.extend(page.contents.into_iter().map(|o| o.key));
    }
    assert!(pages.next_page().await.expect("after the end").is_none());
    (keys, n)
}

async fn scenario(target: &common::S3Target, bucket: &str) {
    let c = client(target, bucket);
    let opts = WriteOptions::default();

    // put, get, delete
    c.put_object("hello.txt", Bytes::from_static(b"hi"), &opts)
        .await
        .unwrap();
    let body = c.get_object("hello.txt", None).await.unwrap().bytes().await;
    assert_eq!(&body.unwrap()[..], b"hi");

    // list: 7 keys under a prefix, in pages of 3 (and one key outside the prefix)
    let mut want: Vec<String> = (0..7).map(|i| format!("logs/{i:02}.txt")).collect();
    for k in &want {
        c.put_object(k, Bytes::from(k.clone()), &opts)
            .await
            .unwrap();
    }
    let (keys, pages) = list_all(&c, "logs/", 3).await;
    assert_eq!(keys, want);
    assert_eq!(pages, 3, "7 keys in pages of 3");
    let (keys, pages) = list_all(&c, "logs/", 1000).await;
    assert_eq!((keys.len(), pages), (7, 1));
    // the same as a stream of pages
    let streamed: Vec<String> = c
        .list_objects_v2_pages(
            ListObjectsV2Request::default()
                .with_prefix("logs/")
                .with_max_keys(2),
        )
        .into_stream()
        .map_ok(|page| {
            futures_util::stream::iter(
                page.contents
                    .into_iter()
                    .map(|o| Ok::<_, s3driver::client::Error>(o.key)),
            )
        })
        .try_flatten()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(streamed, want);
    // start_after applies to the first page only
    let (keys, _) = {
        let mut pages = c.list_objects_v2_pages(
            ListObjectsV2Request::default()
                .with_prefix("logs/")
                .with_max_keys(2)
                .with_start_after("logs/03.txt"),
        );
        let mut keys = Vec::new();
        while let Some(p) = pages.next_page().await.unwrap() {
            keys.extend(p.contents.into_iter().map(|o| o.key));
        }
        (keys, ())
    };
    assert_eq!(keys, want.split_off(4));

    // multipart: 5 MiB + 1 byte
    let parts = [Bytes::from(vec![b'a'; 5 << 20]), Bytes::from_static(b"z")];
    let id = c.create_multipart_upload("big.bin", &opts).await.unwrap();
    let mut done = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let part_number = u32::try_from(i).unwrap() + 1;
        let etag = c
            .upload_part("big.bin", &id, part_number, part.clone())
            .await
            .unwrap();
        done.push(CompletedPart { part_number, etag });
    }
    c.complete_multipart_upload("big.bin", &id, &done)
        .await
        .unwrap();
    assert_eq!(c.head_object("big.bin").await.unwrap().size, (5 << 20) + 1);

    // presign: a plain HTTP GET of the URL reads the object; a tampered one is refused
    let url = c
        .presign(
            "GET",
            "hello.txt",
            Duration::from_secs(300),
            SystemTime::now(),
        )
        .await
        .unwrap();
    let http = common::http_client();
    let resp = http.get(&url).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200, "{url}");
    assert_eq!(&resp.bytes().await.unwrap()[..], b"hi");
    let tampered = url.replace("hello.txt", "logs/00.txt");
    assert_eq!(
        http.get(&tampered).send().await.unwrap().status().as_u16(),
        403
    );

    c.delete_object("hello.txt").await.unwrap();
    let e = c.head_object("hello.txt").await.expect_err("deleted");
    assert!(e.is_not_found(), "{e}");

    // a wrong secret: the builder builds (nothing is sent), the first request is refused
    let wrong = S3Client::builder()
        .endpoint(&target.endpoint)
        .region(&target.region)
        .bucket(bucket)
        .static_credentials(&target.access_key, "not-the-secret")
        .retry(RetryConfig::disabled())
        .build()
        .unwrap();
    let e = wrong.list_objects_v2_pages(ListObjectsV2Request::default());
    let err = e.into_stream().try_collect::<Vec<_>>().await.unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");
    assert!(matches!(err.kind(), ErrorKind::Service(_)), "{err:?}");
}

#[tokio::test]
async fn builder_and_pager_on_s3s_fs() {
    let server = common::S3sServer::start().await;
    let bucket = common::unique_bucket_name("builder");
    server.create_bucket(&bucket);
    scenario(&server.target(), &bucket).await;
}

#[tokio::test]
async fn builder_and_pager_on_swift() {
    let Some(server) = common::server_or_skip(&common::SWIFT) else {
        return;
    };
    let bucket = common::unique_bucket_name("builder");
    server.create_bucket(&bucket).await;
    scenario(&server.target(), &bucket).await;
}

#[tokio::test]
async fn builder_and_pager_on_ceph() {
    let Some(server) = common::server_or_skip(&common::CEPH) else {
        return;
    };
    let bucket = common::unique_bucket_name("builder");
    server.create_bucket(&bucket).await;
    scenario(&server.target(), &bucket).await;
}

/// A server that answers every ListObjectsV2 page as truncated with the same token: the
/// pager stops with an error after two requests instead of looping.
#[tokio::test]
async fn a_server_repeating_its_token_ends_the_listing_with_an_error() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = std::sync::Arc::clone(&requests);
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let counter = std::sync::Arc::clone(&counter);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16384];
                loop {
                    let mut got = Vec::new();
                    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                        match s.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => got.extend_from_slice(&buf[..n]),
                        }
                    }
                    counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult><Name>b</Name><KeyCount>1</KeyCount><MaxKeys>1</MaxKeys><IsTruncated>true</IsTruncated><NextContinuationToken>SAME</NextContinuationToken><Contents><Key>k</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified><Size>1</Size></Contents></ListBucketResult>";
                    let resp = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if s.write_all(resp.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    let c = S3Client::builder()
        .endpoint(format!("http://{addr}"))
        .region("us-east-1")
        .bucket("b")
        .static_credentials("AKID", "secret")
        .build()
        .unwrap();
    let mut pages = c.list_objects_v2_pages(ListObjectsV2Request::default());
    assert!(pages.next_page().await.unwrap().is_some());
    let e = pages.next_page().await.expect_err("the same token again");
    assert!(e.to_string().contains("NextContinuationToken"), "{e}");
    assert!(pages.next_page().await.unwrap().is_none());
    assert_eq!(requests.load(std::sync::atomic::Ordering::SeqCst), 2);
}
