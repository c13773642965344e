//! Fuzz target `xml`: runs every S3 XML parser of `s3driver::xml` on arbitrary bytes, and
//! checks the request writers' round trips on whatever parses as a request body
//! (`Delete`, `CompleteMultipartUpload`) and the timestamp writer on whatever parses as a
//! time. A panic is a finding: parsers must return `XmlError`, never panic.
//!
//! Seed corpus: the fixtures under `tests/fixtures/xml/` (`aws/` and `servers/`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    s3driver::xml::__fuzz_parse_all(data);
});
