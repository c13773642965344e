//! XML codec benchmarks: parsing a full 1000-key `ListObjectsV2` page (generated here, shaped
//! like an AWS answer for registry blob keys) and writing a `CompleteMultipartUpload` request
//! of 10 000 parts (the S3 maximum).
//!
//! ```text
//! cargo bench --features __internals --bench xml -- --warm-up-time 1 --measurement-time 3
//! ```

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

// The request type is crate-private; `__bench_complete_multipart_upload_xml` runs its writer.
use s3driver::xml::{__bench_complete_multipart_upload_xml, CompletedPart, ETag, ListBucketResult};

/// A truncated `ListObjectsV2` page of `keys` registry blob keys, as AWS writes it.
fn list_page(keys: usize) -> String {
    let mut xml = String::with_capacity(keys * 400 + 512);
    xml.push_str(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
         <Name>registry-bucket</Name><Prefix>docker/registry/v2/blobs/</Prefix>",
    );
    write!(
        xml,
        "<KeyCount>{keys}</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>"
    )
    .unwrap();
    for i in 0..keys {
        // A sha256-looking digest per key, deterministic.
        let digest = format!("{:016x}{:016x}{:016x}{:016x}", i * 7919, i * 104_729, i, !i);
        write!(
            xml,
            "<Contents><Key>docker/registry/v2/blobs/sha256/{}/{digest}/data</Key>\
             <LastModified>2024-05-{:02}T12:{:02}:{:02}.000Z</LastModified>\
             <ETag>&quot;{:032x}&quot;</ETag><Size>{}</Size>\
             <StorageClass>STANDARD</StorageClass></Contents>",
            &digest[..2],
            1 + i % 28,
            i % 60,
            (i * 7) % 60,
            i as u128 * 0x9e37_79b9_7f4a_7c15,
            1024 + i * 4096,
        )
        .unwrap();
    }
    xml.push_str(
        "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>\
         </ListBucketResult>",
    );
    xml
}

fn parse_list(c: &mut Criterion) {
    let page = list_page(1000);
    let parsed = ListBucketResult::parse(page.as_bytes()).expect("the generated page parses");
    assert_eq!(parsed.contents.len(), 1000);
    let mut group = c.benchmark_group("xml parse ListObjectsV2");
    group.throughput(Throughput::Bytes(page.len() as u64));
    group.bench_function("1000 keys", |b| {
        b.iter(|| ListBucketResult::parse(black_box(page.as_bytes())).unwrap());
    });
    group.finish();
}

fn write_complete(c: &mut Criterion) {
    let parts: Vec<CompletedPart> = (1..=10_000u32)
        .rev() // the writer sorts: give it the work
        .map(|n| CompletedPart {
            part_number: n,
            etag: ETag::new(format!("\"{:032x}\"", u128::from(n) * 0x9e37_79b9)),
        })
        .collect();
    let body = __bench_complete_multipart_upload_xml(&parts).expect("10 000 parts serialize");
    let mut group = c.benchmark_group("xml write CompleteMultipartUpload");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("10000 parts", |b| {
        b.iter(|| __bench_complete_multipart_upload_xml(black_box(&parts)).unwrap());
    });
    group.finish();
}

criterion_group!(benches, parse_list, write_complete);
criterion_main!(benches);
