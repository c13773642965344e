//! `LocationConstraint`: the answer to `GetBucketLocation`.

use super::de::{is_xml_space, Deserializer};
use super::error::XmlError;

/// The answer to `GetBucketLocation` ([api]).
///
/// S3 answers an empty `<LocationConstraint/>` for buckets in `us-east-1` and the legacy
/// value `EU` for old `eu-west-1` buckets; [`LocationConstraint::region`] maps both. Any
/// other value is the region name itself.
///
/// [api]: https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketLocation.html
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationConstraint {
    /// The element's text exactly as sent (empty for `us-east-1`).
    pub raw: String,
    /// The region to sign for: `us-east-1` for an empty value, `eu-west-1` for `EU`,
    /// otherwise the value itself without surrounding whitespace.
    pub region: String,
}

impl LocationConstraint {
    /// Parses a `GetBucketLocation` response body.
    ///
    /// # Errors
    ///
    /// [`XmlError`] when the body is malformed or its root is not `<LocationConstraint>`.
    pub fn parse(body: &[u8]) -> Result<Self, XmlError> {
        const ROOT: &str = "LocationConstraint";
        let mut de = Deserializer::new(body);
        let empty = de.expect_root(ROOT)?;
        let raw = de.text(ROOT, empty)?;
        de.finish()?;
        let region = match raw.trim_matches(is_xml_space) {
            "" => "us-east-1",
            "EU" => "eu-west-1",
            other => other,
        }
        .to_owned();
        Ok(LocationConstraint { raw, region })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_mapping() {
        for (body, raw, region) in [
            ("<LocationConstraint/>", "", "us-east-1"),
            ("<LocationConstraint></LocationConstraint>", "", "us-east-1"),
            (
                "<LocationConstraint>EU</LocationConstraint>",
                "EU",
                "eu-west-1",
            ),
            (
                "<LocationConstraint>eu-central-1</LocationConstraint>",
                "eu-central-1",
                "eu-central-1",
            ),
            (
                "<LocationConstraint> ap-south-1\n</LocationConstraint>",
                " ap-south-1\n",
                "ap-south-1",
            ),
        ] {
            let got = LocationConstraint::parse(body.as_bytes()).unwrap();
            assert_eq!(
                (got.raw.as_str(), got.region.as_str()),
                (raw, region),
                "{body}"
            );
        }
    }

    #[test]
    fn nested_elements_are_errors() {
        assert!(
            LocationConstraint::parse(b"<LocationConstraint><X/></LocationConstraint>").is_err()
        );
    }
}
