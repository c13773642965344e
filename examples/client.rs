//! The S3 client on its own: build it, then put, get, list (paged), multipart, presign and
//! delete, as the crate docs show them.
//!
//! ```text
//! client [ENDPOINT_URL] [BUCKET]
//! ```
//!
//! `ENDPOINT_URL` defaults to `http://127.0.0.1:9000`, `BUCKET` to `client-example` (it must
//! exist). Credentials come from the AWS chain (`AWS_ACCESS_KEY_ID` /
//! `AWS_SECRET_ACCESS_KEY`, shared files, ...), the region from `AWS_REGION` (default
//! `us-east-1`). Against a local s3s-fs server:
//!
//! ```text
//! cargo run --example s3s_fs_server -- 9000 client-example &   # prints the keys to export
//! AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... cargo run --example client
//! ```

use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use s3driver::client::{Error, ListObjectsV2Request, S3Client, WriteOptions};
use s3driver::xml::CompletedPart;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let endpoint = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:9000".to_owned());
    let bucket = args.next().unwrap_or_else(|| "client-example".to_owned());
    match run(&endpoint, &bucket).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("client: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(endpoint: &str, bucket: &str) -> Result<(), Error> {
    let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".to_owned());
    let client = S3Client::builder()
        .endpoint(endpoint)
        .region(region)
        .bucket(bucket)
        .build()?;
    let opts = WriteOptions::default();

    client.put_object("hello.txt", "hi".into(), &opts).await?;
    let body = client.get_object("hello.txt", None).await?.bytes().await?;
    println!("get hello.txt: {:?}", String::from_utf8_lossy(&body));

    for i in 0..5 {
        let key = format!("logs/{i}.txt");
        client
            .put_object(&key, Bytes::from(key.clone()), &opts)
            .await?;
    }
    let mut pages = client.list_objects_v2_pages(
        ListObjectsV2Request::default()
            .with_prefix("logs/")
            .with_max_keys(2),
    );
    while let Some(page) = pages.next_page().await? {
        let keys: Vec<&str> = page.contents.iter().map(|o| o.key.as_str()).collect();
        println!("list page: {keys:?}");
    }

    let parts = [Bytes::from(vec![b'a'; 5 << 20]), Bytes::from_static(b"end")];
    let id = client.create_multipart_upload("big.bin", &opts).await?;
    let mut done = Vec::new();
    for (part_number, part) in (1..).zip(parts) {
        let etag = client
            .upload_part("big.bin", &id, part_number, part)
            .await?;
        done.push(CompletedPart { part_number, etag });
    }
    client
        .complete_multipart_upload("big.bin", &id, &done)
        .await?;
    println!(
        "multipart big.bin: {} bytes",
        client.head_object("big.bin").await?.size
    );

    let url = client
        .presign(
            "GET",
            "hello.txt",
            Duration::from_secs(300),
            SystemTime::now(),
        )
        .await?;
    println!("presigned GET (5 minutes): {url}");

    for key in ["hello.txt", "big.bin"] {
        client.delete_object(key).await?;
    }
    for i in 0..5 {
        client.delete_object(&format!("logs/{i}.txt")).await?;
    }
    println!("deleted everything this example wrote");
    Ok(())
}
