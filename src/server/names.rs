//! Repository names, tags and upload ids, validated with the grammars of the
//! OCI distribution spec / `github.com/distribution/reference`.

/// Longest accepted repository name (`reference.NameTotalLengthMax`).
pub const NAME_MAX_LEN: usize = 255;

/// True if `name` matches the distribution spec's repository name grammar:
/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`,
/// at most 255 characters.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= NAME_MAX_LEN && name.split('/').all(is_valid_component)
}

fn is_valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    let mut i = 0;
    // First alphanumeric run.
    if b.first().copied().is_none_or(|x| !alnum(x)) {
        return false;
    }
    while i < b.len() && alnum(b[i]) {
        i += 1;
    }
    while i < b.len() {
        // A separator: ".", "_", "__" or one or more "-".
        match b[i] {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if i < b.len() && b[i] == b'_' {
                    i += 1;
                }
            }
            b'-' => {
                while i < b.len() && b[i] == b'-' {
                    i += 1;
                }
            }
            _ => return false,
        }
        // Followed by an alphanumeric run.
        let start = i;
        while i < b.len() && alnum(b[i]) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    true
}

/// True if `tag` matches `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn is_valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    let word = |x: u8| x.is_ascii_alphanumeric() || x == b'_';
    !b.is_empty()
        && b.len() <= 128
        && word(b[0])
        && b[1..].iter().all(|&x| word(x) || x == b'.' || x == b'-')
}

/// True if `id` can name an upload. Distribution's route accepts
/// `[a-zA-Z0-9-_.=]+`; the id becomes a storage path component, so dots and `=`
/// (which storage paths forbid or could abuse as `..`) are refused here.
pub fn is_valid_upload_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A random version 4 UUID in its canonical lower-case form (what Distribution's
/// `uuid.NewString()` produces for upload ids).
///
/// # Errors
/// The operating system's random source failed.
pub fn new_uuid() -> Result<String, getrandom::Error> {
    let mut b = [0u8; 16];
    getrandom::getrandom(&mut b)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_spec_grammar() {
        for ok in [
            "a",
            "library/ubuntu",
            "a.b/c__d/e---f",
            "foo_bar",
            "0/1/2",
            "my-app/sub.name",
        ] {
            assert!(is_valid_name(ok), "{ok}");
        }
        for bad in [
            "",
            "A",
            "a/",
            "/a",
            "a//b",
            "a___b",
            "-a",
            "a-",
            "a..b",
            "a._b",
            "a/_layers",
            "../etc",
            "a b",
        ] {
            assert!(!is_valid_name(bad), "{bad}");
        }
        assert!(is_valid_name(&"a".repeat(255)));
        assert!(!is_valid_name(&"a".repeat(256)));
    }

    #[test]
    fn tags_follow_the_spec_grammar() {
        assert!(is_valid_tag("latest"));
        assert!(is_valid_tag("_x.Y-1"));
        assert!(is_valid_tag(&"a".repeat(128)));
        assert!(!is_valid_tag(&"a".repeat(129)));
        assert!(!is_valid_tag(".hidden"));
        assert!(!is_valid_tag("-x"));
        assert!(!is_valid_tag("a:b"));
        assert!(!is_valid_tag(""));
    }

    #[test]
    fn upload_ids_are_safe_path_components() {
        let id = new_uuid().unwrap();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(is_valid_upload_id(&id));
        assert_ne!(id, new_uuid().unwrap());
        assert!(!is_valid_upload_id(".."));
        assert!(!is_valid_upload_id("a=b"));
        assert!(!is_valid_upload_id(""));
    }
}
