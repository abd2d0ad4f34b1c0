//! Which address a request is counted against (the anonymous and credentials
//! rate-limit buckets).
//!
//! The connection's peer address, unless the peer is one of the configured
//! trusted proxies (`NOVA_TRUSTED_PROXIES`): then `X-Forwarded-For` is read from
//! the right, each proxy having appended the address it saw, and the first
//! address that is not a trusted proxy is the client. Entries to the left of it
//! were written by the client and are never believed. With no trusted proxies
//! (the default) the header is ignored altogether.

use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Deserializer};

/// The trusted proxies, from a comma-separated list of addresses and CIDR ranges.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl FromStr for TrustedProxies {
    type Err = String;

    fn from_str(list: &str) -> Result<Self, String> {
        let mut networks = Vec::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let network = match entry.parse::<IpNet>() {
                Ok(network) => network,
                Err(_) => entry.parse::<IpAddr>().map(IpNet::from).map_err(|_| {
                    format!("trusted proxy {entry:?} is not an address or CIDR range")
                })?,
            };
            networks.push(network);
        }
        Ok(Self(networks))
    }
}

impl<'de> Deserialize<'de> for TrustedProxies {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl TrustedProxies {
    fn trusts(&self, address: &IpAddr) -> bool {
        self.0.iter().any(|network| network.contains(address))
    }

    /// The client's address: `peer`, or through trusted proxies the rightmost
    /// untrusted address of the `X-Forwarded-For` values (in header order).
    pub fn client_ip<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl Iterator<Item = &'a str>,
    ) -> IpAddr {
        if !self.trusts(&peer) {
            return peer;
        }
        let hops: Vec<&str> = forwarded_for.flat_map(|value| value.split(',')).collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            // A hop no proxy of ours could have written: stop at the last one we
            // can vouch for.
            let Ok(address) = hop.trim().parse::<IpAddr>() else {
                return client;
            };
            client = address;
            if !self.trusts(&address) {
                return address;
            }
        }
        client
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        let none = TrustedProxies::default();
        let peer = ip("198.51.100.7");
        assert_eq!(none.client_ip(peer, ["203.0.113.1"].into_iter()), peer);
    }

    #[test]
    fn through_trusted_proxies_the_rightmost_untrusted_hop_is_the_client() {
        let proxies: TrustedProxies = "10.0.0.0/8, 127.0.0.1".parse().unwrap();
        let peer = ip("127.0.0.1");
        // The client wrote 1.1.1.1 itself; the edge proxy appended 203.0.113.1.
        let header = ["1.1.1.1, 203.0.113.1", "10.0.0.5"];
        assert_eq!(
            proxies.client_ip(peer, header.into_iter()),
            ip("203.0.113.1")
        );
        // No header: the proxy itself.
        assert_eq!(proxies.client_ip(peer, std::iter::empty()), peer);
        // A peer that is not a proxy is the client, whatever it says.
        let stranger = ip("198.51.100.7");
        assert_eq!(proxies.client_ip(stranger, header.into_iter()), stranger);
    }

    #[test]
    fn a_hop_that_is_not_an_address_stops_the_walk() {
        let proxies: TrustedProxies = "127.0.0.1".parse().unwrap();
        let peer = ip("127.0.0.1");
        assert_eq!(proxies.client_ip(peer, ["junk"].into_iter()), peer);
    }

    #[test]
    fn a_bad_entry_is_refused_at_start() {
        assert!("10.0.0.0/8, not-an-address"
            .parse::<TrustedProxies>()
            .is_err());
        assert!("".parse::<TrustedProxies>().unwrap().0.is_empty());
    }
}
