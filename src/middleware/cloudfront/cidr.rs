//! CIDR blocks and sorted range tables over them, on `std::net` types only.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// An IPv4 or IPv6 CIDR block (`192.0.2.0/24`, `2001:db8::/32`).
///
/// As Go's `net.ParseCIDR`, host bits below the prefix are allowed in the input and masked off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cidr {
    /// An IPv4 block.
    V4 {
        /// The network address (host bits cleared).
        network: Ipv4Addr,
        /// Prefix length, 0..=32.
        prefix: u8,
    },
    /// An IPv6 block.
    V6 {
        /// The network address (host bits cleared).
        network: Ipv6Addr,
        /// Prefix length, 0..=128.
        prefix: u8,
    },
}

/// Why a string is not a CIDR block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CidrError {
    input: String,
}

impl fmt::Display for CidrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not a CIDR block (expected e.g. \"192.0.2.0/24\" or \"2001:db8::/32\")",
            self.input
        )
    }
}

impl std::error::Error for CidrError {}

fn mask_v4(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask_v6(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

impl Cidr {
    /// Parses `address/prefix`.
    ///
    /// # Errors
    /// No `/`, an address `std::net` does not accept (leading zeros, zone ids), or a prefix that
    /// is not 1–3 decimal digits within the family's bit length.
    pub fn parse(s: &str) -> Result<Self, CidrError> {
        let err = || CidrError {
            input: s.to_owned(),
        };
        let (addr, prefix) = s.split_once('/').ok_or_else(err)?;
        if prefix.is_empty() || prefix.len() > 3 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        let prefix: u8 = prefix.parse().map_err(|_| err())?;
        match addr.parse::<IpAddr>().map_err(|_| err())? {
            IpAddr::V4(a) if prefix <= 32 => Ok(Self::V4 {
                network: Ipv4Addr::from(u32::from(a) & mask_v4(prefix)),
                prefix,
            }),
            IpAddr::V6(a) if prefix <= 128 => Ok(Self::V6 {
                network: Ipv6Addr::from(u128::from(a) & mask_v6(prefix)),
                prefix,
            }),
            _ => Err(err()),
        }
    }

    /// Whether `ip` is inside the block. An IPv4 block also matches the IPv4-mapped IPv6 form
    /// (`::ffff:192.0.2.1`), as Go's `IPNet.Contains` does; the families are otherwise distinct.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (*self, canonical(ip)) {
            (Self::V4 { network, prefix }, IpAddr::V4(a)) => {
                u32::from(a) & mask_v4(prefix) == u32::from(network)
            }
            (Self::V6 { network, prefix }, IpAddr::V6(a)) => {
                u128::from(a) & mask_v6(prefix) == u128::from(network)
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::V4 { network, prefix } => write!(f, "{network}/{prefix}"),
            Self::V6 { network, prefix } => write!(f, "{network}/{prefix}"),
        }
    }
}

/// IPv4-mapped IPv6 addresses are looked up as IPv4 (Go's `ip.To4() != nil`).
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// A set of CIDR blocks as sorted, merged, inclusive address ranges: lookups are a binary search.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeTable {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
    blocks_v4: usize,
    blocks_v6: usize,
}

fn merge<T: Copy + Ord>(mut ranges: Vec<(T, T)>, next: impl Fn(T) -> Option<T>) -> Vec<(T, T)> {
    crate::sort::sort(&mut ranges);
    let mut out: Vec<(T, T)> = Vec::with_capacity(ranges.len());
    for (start, end) in ranges {
        if let Some(last) = out.last_mut() {
            // Overlapping or adjacent: extend.
            if next(last.1).is_none_or(|after| start <= after) {
                last.1 = last.1.max(end);
                continue;
            }
        }
        out.push((start, end));
    }
    out
}

fn lookup<T: Copy + Ord>(table: &[(T, T)], x: T) -> bool {
    let idx = table.partition_point(|&(start, _)| start <= x);
    idx > 0 && table[idx - 1].1 >= x
}

impl RangeTable {
    /// Builds the table from blocks of either family.
    pub fn new(blocks: impl IntoIterator<Item = Cidr>) -> Self {
        let (mut v4, mut v6) = (Vec::new(), Vec::new());
        for block in blocks {
            match block {
                Cidr::V4 { network, prefix } => {
                    let start = u32::from(network);
                    v4.push((start, start | !mask_v4(prefix)));
                }
                Cidr::V6 { network, prefix } => {
                    let start = u128::from(network);
                    v6.push((start, start | !mask_v6(prefix)));
                }
            }
        }
        let (blocks_v4, blocks_v6) = (v4.len(), v6.len());
        Self {
            v4: merge(v4, |x| x.checked_add(1)),
            v6: merge(v6, |x| x.checked_add(1)),
            blocks_v4,
            blocks_v6,
        }
    }

    /// Whether `ip` is in one of the blocks (IPv4-mapped IPv6 addresses are looked up as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match canonical(ip) {
            IpAddr::V4(a) => lookup(&self.v4, u32::from(a)),
            IpAddr::V6(a) => lookup(&self.v6, u128::from(a)),
        }
    }

    /// How many IPv4 and IPv6 blocks the table was built from (before merging).
    pub fn block_counts(&self) -> (usize, usize) {
        (self.blocks_v4, self.blocks_v6)
    }

    /// `true` when the table holds no block at all.
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn c(s: &str) -> Cidr {
        Cidr::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn parses_and_masks_like_go() {
        assert_eq!(c("192.0.2.77/24").to_string(), "192.0.2.0/24");
        assert_eq!(c("10.1.2.3/0").to_string(), "0.0.0.0/0");
        assert_eq!(c("10.1.2.3/32").to_string(), "10.1.2.3/32");
        assert_eq!(c("2001:db8:ffff::1/32").to_string(), "2001:db8::/32");
        assert_eq!(c("::/0").to_string(), "::/0");
        assert_eq!(c("2001:db8::1/128").to_string(), "2001:db8::1/128");
        assert_eq!("3.5.140.0/22".parse::<Cidr>().unwrap(), c("3.5.140.0/22"));
        for bad in [
            "",
            "10.0.0.0",
            "10.0.0.0/",
            "10.0.0.0/33",
            "10.0.0.0/-1",
            "10.0.0.0/+8",
            "10.0.0/8",
            "010.0.0.0/8",
            "10.0.0.0/8/8",
            "::/129",
            "fe80::1%eth0/64",
            " 10.0.0.0/8",
            "10.0.0.0/0008",
            "x/8",
        ] {
            assert!(Cidr::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Cidr::parse("nope")
            .unwrap_err()
            .to_string()
            .contains("nope"));
    }

    #[test]
    fn contains_by_family() {
        let v4 = c("192.0.2.0/24");
        assert!(v4.contains(ip("192.0.2.0")));
        assert!(v4.contains(ip("192.0.2.255")));
        assert!(!v4.contains(ip("192.0.3.0")));
        assert!(v4.contains(ip("::ffff:192.0.2.9")));
        assert!(!v4.contains(ip("2001:db8::1")));
        let v6 = c("2001:db8::/32");
        assert!(v6.contains(ip("2001:db8:1::5")));
        assert!(!v6.contains(ip("2001:db9::")));
        assert!(!v6.contains(ip("192.0.2.1")));
        assert!(c("0.0.0.0/0").contains(ip("255.255.255.255")));
        assert!(c("::/0").contains(ip("ffff::")));
    }

    #[test]
    fn table_merges_and_searches() {
        let t = RangeTable::new([
            c("10.0.1.0/24"),
            c("10.0.0.0/24"),   // adjacent to the one above
            c("10.0.0.128/25"), // inside
            c("192.0.2.0/24"),
            c("255.255.255.255/32"),
            c("2001:db8::/32"),
            c("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"),
        ]);
        assert_eq!(
            t.v4,
            vec![
                (0x0a00_0000, 0x0a00_01ff),
                (0xc000_0200, 0xc000_02ff),
                (u32::MAX, u32::MAX)
            ]
        );
        assert_eq!(t.block_counts(), (5, 2));
        for (s, want) in [
            ("9.255.255.255", false),
            ("10.0.0.0", true),
            ("10.0.1.255", true),
            ("10.0.2.0", false),
            ("192.0.2.128", true),
            ("255.255.255.255", true),
            ("255.255.255.254", false),
            ("::ffff:10.0.0.1", true),
            ("2001:db8::", true),
            ("2001:db7:ffff::", false),
            ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true),
            ("::1", false),
        ] {
            assert_eq!(t.contains(ip(s)), want, "{s}");
        }
        assert!(!t.is_empty());
        let empty = RangeTable::default();
        assert!(empty.is_empty());
        assert!(!empty.contains(ip("10.0.0.1")));
        assert!(RangeTable::new([c("0.0.0.0/0")]).contains(ip("1.2.3.4")));
    }
}
