//! Kong's `trusted_ips`: clients whose `X-Forwarded-*` headers are believed.
//!
//! Parsed from a comma-separated list of addresses and CIDR blocks (env `TRUSTED_IPS`);
//! `0.0.0.0/0,::/0` trusts everyone. Empty (Kong's default) trusts nobody.

use std::net::IpAddr;

/// A set of trusted networks.
#[derive(Debug, Clone, Default)]
pub struct TrustedIps {
    nets: Vec<(IpAddr, u8)>,
}

impl TrustedIps {
    /// Parse `a.b.c.d, 10.0.0.0/8, ::1`; invalid entries are an error naming them.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut nets = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (ip, bits) = match item.split_once('/') {
                Some((ip, bits)) => (ip, Some(bits)),
                None => (item, None),
            };
            let ip: IpAddr = ip
                .parse()
                .map_err(|_| format!("invalid trusted ip '{item}'"))?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let bits = match bits {
                Some(b) => b
                    .parse::<u8>()
                    .ok()
                    .filter(|b| *b <= max)
                    .ok_or(format!("invalid prefix in '{item}'"))?,
                None => max,
            };
            nets.push((ip, bits));
        }
        Ok(Self { nets })
    }

    /// Whether `ip` is trusted.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.nets.iter().any(|&(net, bits)| match (net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => prefix_eq(&n.octets(), &a.octets(), bits),
            (IpAddr::V6(n), IpAddr::V6(a)) => prefix_eq(&n.octets(), &a.octets(), bits),
            _ => false,
        })
    }
}

fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
    let full = usize::from(bits / 8);
    if a[..full] != b[..full] {
        return false;
    }
    let rem = bits % 8;
    if rem == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rem);
    (a[full] & mask) == (b[full] & mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_table() {
        let t = TrustedIps::parse("10.0.0.0/8, 192.168.1.7, ::1, 172.16.0.0/12").expect("parse");
        let cases = [
            ("10.1.2.3", true),
            ("11.0.0.1", false),
            ("192.168.1.7", true),
            ("192.168.1.8", false),
            ("::1", true),
            ("172.31.255.255", true),
            ("172.32.0.0", false),
            ("::ffff:10.0.0.1", true),
        ];
        for (ip, want) in cases {
            assert_eq!(t.contains(ip.parse().expect("ip")), want, "{ip}");
        }
        assert!(!TrustedIps::default().contains("127.0.0.1".parse().expect("ip")));
        assert!(TrustedIps::parse("0.0.0.0/0")
            .expect("all")
            .contains("8.8.8.8".parse().expect("ip")));
        assert!(TrustedIps::parse("nope").is_err());
    }
}
