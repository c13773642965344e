//! Unit tests for endpoint resolution: one test per branch of the rules.

use super::*;
use crate::client::error::ErrorKind;

fn aws(region: &str) -> EndpointConfig {
    EndpointConfig {
        region: region.into(),
        ..EndpointConfig::default()
    }
}

fn custom(ep: &str) -> EndpointConfig {
    EndpointConfig {
        region_endpoint: Some(ep.into()),
        ..EndpointConfig::default()
    }
}

fn err_msg(r: Result<ResolvedEndpoint, Error>) -> String {
    let e = r.unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::InvalidConfig { .. }), "{e:?}");
    e.to_string()
}

#[test]
fn region_list_is_37_unique_regions() {
    let set: std::collections::HashSet<_> = AWS_REGIONS.iter().collect();
    assert_eq!(set.len(), 37);
    for r in AWS_REGIONS {
        validate_region(r).unwrap();
    }
    assert!(validate_region("")
        .unwrap_err()
        .to_string()
        .contains("required"));
    let e = validate_region("mars-north-1").unwrap_err().to_string();
    assert!(
        e.contains("mars-north-1") && e.contains("`endpoint`") && !e.contains("regionendpoint"),
        "{e}"
    );
    // Regions newer than aws-sdk-go v1.55.5 are not in the list (as in Distribution).
    assert!(validate_region("ap-southeast-5").is_err());
    assert!(validate_region("US-EAST-1").is_err());
}

#[test]
fn aws_virtual_hosted_default() {
    let ep = aws("eu-west-1").resolve("my-bucket").unwrap();
    assert_eq!(ep.style(), AddressingStyle::VirtualHosted);
    assert_eq!(ep.scheme(), Scheme::Https);
    assert!(ep.is_aws());
    assert_eq!(ep.signing_region(), "eu-west-1");
    assert_eq!(ep.endpoint_host(), "s3.eu-west-1.amazonaws.com");
    assert_eq!(
        ep.url_for("docker/registry/v2/blobs/x"),
        RequestTarget {
            host: "my-bucket.s3.eu-west-1.amazonaws.com".into(),
            path: "/docker/registry/v2/blobs/x".into(),
            base_url: "https://my-bucket.s3.eu-west-1.amazonaws.com".into(),
        }
    );
    assert_eq!(ep.url_for("").path, "/");
}

#[test]
fn aws_us_east_1_is_regional() {
    let ep = aws("us-east-1").resolve("b-1").unwrap();
    assert_eq!(ep.host(), "b-1.s3.us-east-1.amazonaws.com");
    assert_eq!(ep.signing_region(), "us-east-1");
}

#[test]
fn aws_path_style_forced() {
    let cfg = EndpointConfig {
        force_path_style: true,
        ..aws("us-west-2")
    };
    let ep = cfg.resolve("bucket").unwrap();
    assert_eq!(ep.style(), AddressingStyle::Path);
    let t = ep.url_for("a/b");
    assert_eq!(t.host, "s3.us-west-2.amazonaws.com");
    assert_eq!(t.path, "/bucket/a/b");
    assert_eq!(t.base_url, "https://s3.us-west-2.amazonaws.com");
    assert_eq!(ep.url_for("").path, "/bucket");
}

#[test]
fn aws_non_dns_buckets_fall_back_to_path_style() {
    for b in [
        "My-Bucket",
        "my_bucket",
        "ab",
        "-bucket",
        "bucket-",
        "192.168.1.1",
        "a..b",
        &"a".repeat(64),
        "my.bucket", // dots over https
    ] {
        let ep = aws("us-east-2").resolve(b).unwrap();
        assert_eq!(ep.style(), AddressingStyle::Path, "{b}");
        assert_eq!(ep.host(), "s3.us-east-2.amazonaws.com");
    }
    // Dots are fine over plain http.
    let cfg = EndpointConfig {
        secure: false,
        ..aws("us-east-2")
    };
    let ep = cfg.resolve("my.bucket").unwrap();
    assert_eq!(ep.style(), AddressingStyle::VirtualHosted);
    assert_eq!(
        ep.url_for("k").base_url,
        "http://my.bucket.s3.us-east-2.amazonaws.com"
    );
    // 3 and 63 characters are the limits.
    assert_eq!(
        aws("us-east-2").resolve("abc").unwrap().style(),
        AddressingStyle::VirtualHosted
    );
    assert_eq!(
        aws("us-east-2").resolve(&"a".repeat(63)).unwrap().style(),
        AddressingStyle::VirtualHosted
    );
}

#[test]
fn aws_partitions() {
    let cases = [
        ("cn-north-1", "s3.cn-north-1.amazonaws.com.cn"),
        ("cn-northwest-1", "s3.cn-northwest-1.amazonaws.com.cn"),
        ("us-gov-west-1", "s3.us-gov-west-1.amazonaws.com"),
        ("us-iso-east-1", "s3.us-iso-east-1.c2s.ic.gov"),
        ("us-isob-east-1", "s3.us-isob-east-1.sc2s.sgov.gov"),
        ("eu-isoe-west-1", "s3.eu-isoe-west-1.cloud.adc-e.uk"),
    ];
    for (region, host) in cases {
        assert_eq!(aws(region).resolve("b-b").unwrap().endpoint_host(), host);
    }
}

#[test]
fn aws_dual_stack() {
    let cfg = EndpointConfig {
        use_dual_stack: true,
        ..aws("ap-south-1")
    };
    assert_eq!(
        cfg.resolve("bkt").unwrap().host(),
        "bkt.s3.dualstack.ap-south-1.amazonaws.com"
    );
    let cn = EndpointConfig {
        use_dual_stack: true,
        ..aws("cn-north-1")
    };
    assert_eq!(
        cn.resolve("bkt").unwrap().endpoint_host(),
        "s3.dualstack.cn-north-1.amazonaws.com.cn"
    );
    let iso = EndpointConfig {
        use_dual_stack: true,
        ..aws("us-iso-east-1")
    };
    assert!(err_msg(iso.resolve("bkt")).contains("`dual_stack`"));
}

#[test]
fn aws_accelerate() {
    let cfg = EndpointConfig {
        accelerate: true,
        ..aws("eu-central-1")
    };
    let ep = cfg.resolve("bkt").unwrap();
    assert_eq!(ep.host(), "bkt.s3-accelerate.amazonaws.com");
    assert_eq!(ep.signing_region(), "eu-central-1");
    assert_eq!(ep.style(), AddressingStyle::VirtualHosted);
    let dual = EndpointConfig {
        use_dual_stack: true,
        ..cfg.clone()
    };
    assert_eq!(
        dual.resolve("bkt").unwrap().host(),
        "bkt.s3-accelerate.dualstack.amazonaws.com"
    );
    let path = EndpointConfig {
        force_path_style: true,
        ..cfg.clone()
    };
    assert!(err_msg(path.resolve("bkt")).contains("`AddressingStyle::VirtualHosted`"));
    let http = EndpointConfig {
        secure: false,
        ..cfg.clone()
    };
    assert!(err_msg(http.resolve("a.b")).contains("no dots"));
    assert!(err_msg(cfg.resolve("Upper")).contains("DNS-compatible"));
    for region in ["cn-north-1", "us-gov-east-1", "us-iso-east-1"] {
        let c = EndpointConfig {
            accelerate: true,
            ..aws(region)
        };
        assert!(
            err_msg(c.resolve("bkt")).contains("not available"),
            "{region}"
        );
    }
}

#[test]
fn aws_insecure_and_bad_region() {
    let cfg = EndpointConfig {
        secure: false,
        ..aws("sa-east-1")
    };
    assert_eq!(cfg.resolve("bkt").unwrap().scheme(), Scheme::Http);
    assert!(err_msg(aws("").resolve("bkt")).contains("required"));
    assert!(err_msg(aws("moon-1").resolve("bkt")).contains("unknown AWS region"));
}

#[test]
fn bucket_validation() {
    assert!(err_msg(aws("us-east-1").resolve("")).contains("`bucket` is required"));
    for b in ["a/b", "a b", "a?b", "a#b", "a\nb"] {
        assert!(
            err_msg(aws("us-east-1").resolve(b)).contains("rootdirectory"),
            "{b:?}"
        );
    }
}

#[test]
fn custom_endpoint_virtual_hosted_by_default() {
    // Distribution v3 behaviour (#4528): virtual-hosted unless forcepathstyle.
    let ep = custom("https://storage.example.com")
        .resolve("bkt")
        .unwrap();
    assert!(!ep.is_aws());
    assert_eq!(ep.style(), AddressingStyle::VirtualHosted);
    assert_eq!(ep.host(), "bkt.storage.example.com");
    assert_eq!(ep.signing_region(), DEFAULT_CUSTOM_ENDPOINT_REGION);
    assert_eq!(ep.url_for("k").path, "/k");
}

#[test]
fn custom_endpoint_path_style() {
    let cfg = EndpointConfig {
        force_path_style: true,
        region: "garage".into(),
        ..custom("http://minio.internal:9000/")
    };
    let ep = cfg.resolve("images-local").unwrap();
    assert_eq!(ep.style(), AddressingStyle::Path);
    assert_eq!(ep.signing_region(), "garage");
    assert_eq!(
        ep.url_for("docker/x"),
        RequestTarget {
            host: "minio.internal:9000".into(),
            path: "/images-local/docker/x".into(),
            base_url: "http://minio.internal:9000".into(),
        }
    );
}

#[test]
fn custom_endpoint_ip_and_localhost_use_path_style() {
    for ep in [
        "http://127.0.0.1:9000",
        "127.0.0.1:9000",
        "http://localhost:9000",
        "http://minio.localhost",
        "http://[::1]:9000",
        "http://10.0.0.5",
    ] {
        let r = custom(ep).resolve("bkt").unwrap();
        assert_eq!(r.style(), AddressingStyle::Path, "{ep}");
        assert!(!r.host().starts_with("bkt."), "{ep}");
    }
    let r = custom("http://[::1]:9000").resolve("bkt").unwrap();
    assert_eq!(r.url_for("k").base_url, "http://[::1]:9000");
    assert_eq!(
        custom("[::1]").resolve("bkt").unwrap().host(),
        "[::1]",
        "IPv6 without port"
    );
}

#[test]
fn custom_endpoint_scheme_from_secure() {
    let r = custom("minio.example.com").resolve("bkt").unwrap();
    assert_eq!(r.scheme(), Scheme::Https);
    let cfg = EndpointConfig {
        secure: false,
        ..custom("minio.example.com:9000")
    };
    let r = cfg.resolve("bkt").unwrap();
    assert_eq!(r.scheme(), Scheme::Http);
    assert_eq!(r.url_for("k").base_url, "http://bkt.minio.example.com:9000");
    // An explicit scheme wins over `secure`.
    let cfg = EndpointConfig {
        secure: false,
        ..custom("HTTPS://Minio.Example.COM")
    };
    let r = cfg.resolve("bkt").unwrap();
    assert_eq!(r.scheme(), Scheme::Https);
    assert_eq!(
        r.endpoint_host(),
        "minio.example.com",
        "host is lower-cased"
    );
}

#[test]
fn custom_endpoint_default_port_dropped() {
    assert_eq!(
        custom("https://s3.example.com:443")
            .resolve("b-b")
            .unwrap()
            .endpoint_host(),
        "s3.example.com"
    );
    assert_eq!(
        custom("http://s3.example.com:80")
            .resolve("b-b")
            .unwrap()
            .endpoint_host(),
        "s3.example.com"
    );
    assert_eq!(
        custom("http://s3.example.com:443")
            .resolve("b-b")
            .unwrap()
            .endpoint_host(),
        "s3.example.com:443"
    );
}

#[test]
fn custom_endpoint_path_prefix() {
    let cfg = EndpointConfig {
        force_path_style: true,
        ..custom("https://gw.example.com/s3/")
    };
    let ep = cfg.resolve("bkt").unwrap();
    assert_eq!(ep.path_prefix(), "/s3");
    assert_eq!(ep.url_for("k").path, "/s3/bkt/k");
    let ep = custom("https://gw.example.com/s3").resolve("bkt").unwrap();
    assert_eq!(ep.url_for("k").path, "/s3/k");
    assert_eq!(ep.url_for("").path, "/s3/");
}

#[test]
fn custom_endpoint_non_dns_bucket_uses_path_style() {
    let r = custom("https://s3.example.com")
        .resolve("my.bucket")
        .unwrap();
    assert_eq!(r.style(), AddressingStyle::Path);
    let r = custom("https://s3.example.com")
        .resolve("My_Bucket")
        .unwrap();
    assert_eq!(r.style(), AddressingStyle::Path);
}

#[test]
fn custom_endpoint_ignores_dual_stack_rejects_accelerate() {
    let cfg = EndpointConfig {
        use_dual_stack: true,
        ..custom("https://s3.example.com")
    };
    assert_eq!(
        cfg.resolve("bkt").unwrap().endpoint_host(),
        "s3.example.com"
    );
    let cfg = EndpointConfig {
        accelerate: true,
        ..custom("https://s3.example.com")
    };
    assert!(err_msg(cfg.resolve("bkt")).contains("accelerate"));
}

#[test]
fn custom_endpoint_region_not_validated() {
    let cfg = EndpointConfig {
        region: "anything-goes".into(),
        ..custom("http://127.0.0.1:9000")
    };
    assert_eq!(
        cfg.resolve("bkt").unwrap().signing_region(),
        "anything-goes"
    );
    // An empty or whitespace endpoint means "no custom endpoint".
    let cfg = EndpointConfig {
        region: "us-east-1".into(),
        ..custom("  ")
    };
    assert!(cfg.resolve("bkt").unwrap().is_aws());
}

#[test]
fn custom_endpoint_malformed() {
    for ep in [
        "ftp://host",
        "http://",
        "http:///path",
        "http://host:port",
        "http://host:0",
        "http://host:99999",
        "http://host:",
        "http://user@host",
        "http://host?x=1",
        "http://host#frag",
        "http://ho st",
        "http://[::1",
        "http://[zz]:9000",
        "http://[::1]9000",
        "http://a:b:c",
        "http://host//x",
        "http://host\\x",
        "http://ho\tst",
        "http://ho\nst",
        "http://:9000",
        "http://user:pw@host",
        "localhost:0",
    ] {
        assert!(
            err_msg(custom(ep).resolve("bkt")).contains("`endpoint`"),
            "{ep}"
        );
    }
}

#[test]
fn custom_endpoint_url_normalisation() {
    // `url` normalises IPv4 forms and dot segments, and the path prefix is decoded once.
    let r = custom("http://127.1:9000").resolve("bkt").unwrap();
    assert_eq!(r.endpoint_host(), "127.0.0.1:9000");
    let r = custom("https://gw.example.com/a/../s3%20x/")
        .resolve("bkt")
        .unwrap();
    assert_eq!(r.path_prefix(), "/s3 x");
    let r = custom("minio:9000").resolve("bkt").unwrap();
    assert_eq!(r.endpoint_host(), "minio:9000");
    assert_eq!(r.scheme(), Scheme::Https);
}

#[test]
fn user_agent() {
    let mut cfg = EndpointConfig::default();
    assert_eq!(cfg.user_agent(), USER_AGENT);
    assert!(USER_AGENT.starts_with("s3driver/"));
    cfg.user_agent_suffix = Some("  my-registry/1.0  ".into());
    assert_eq!(cfg.user_agent(), format!("{USER_AGENT} my-registry/1.0"));
    cfg.user_agent_suffix = Some("evil\r\nX-Injected: 1".into());
    assert!(!cfg.user_agent().contains(['\r', '\n']));
    cfg.user_agent_suffix = Some(String::new());
    assert_eq!(cfg.user_agent(), USER_AGENT);
}

#[test]
fn with_style_overrides_the_automatic_choice() {
    let r = custom("http://localhost:9000").resolve("bkt").unwrap();
    assert_eq!(r.style(), AddressingStyle::Path);
    let v = r
        .clone()
        .with_style(AddressingStyle::VirtualHosted)
        .unwrap();
    assert_eq!(v.style(), AddressingStyle::VirtualHosted);
    assert_eq!(v.host(), "bkt.localhost:9000");
    assert_eq!(
        v.url_for("a/b"),
        RequestTarget {
            host: "bkt.localhost:9000".into(),
            path: "/a/b".into(),
            base_url: "http://bkt.localhost:9000".into(),
        }
    );
    // Back to path style, and a no-op when the style is already the requested one.
    let p = v.with_style(AddressingStyle::Path).unwrap();
    assert_eq!(p, r);
    assert_eq!(r.clone().with_style(AddressingStyle::Path).unwrap(), r);
    // Impossible combinations are configuration errors.
    for ep in ["http://127.0.0.1:9000", "http://[::1]:9000"] {
        let e = custom(ep)
            .resolve("bkt")
            .unwrap()
            .with_style(AddressingStyle::VirtualHosted)
            .unwrap_err();
        assert!(e.to_string().contains("IP address"), "{ep}: {e}");
    }
    let e = custom("http://localhost:9000")
        .resolve("Bad_Bucket")
        .unwrap()
        .with_style(AddressingStyle::VirtualHosted)
        .unwrap_err();
    assert!(e.to_string().contains("DNS-compatible"), "{e}");
    let acc = EndpointConfig {
        region: "us-east-1".into(),
        accelerate: true,
        ..EndpointConfig::default()
    };
    let e = acc
        .resolve("bkt")
        .unwrap()
        .with_style(AddressingStyle::Path)
        .unwrap_err();
    assert!(e.to_string().contains("accelerate"), "{e}");
}
