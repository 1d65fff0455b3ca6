//! SSH destinations as users type them: `alias`, `user@host`, `host:port`, `[v6]:port`,
//! `ssh://user@host:port`. Pure parsing; config lookup happens in `config`.

use std::fmt;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Destination {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    /// What the user calls this host when it is not the address (an inventory name).
    pub name: Option<String>,
    /// A key for this host alone (an inventory's `ansible_ssh_private_key_file`), as `-i`.
    pub identity: Option<std::path::PathBuf>,
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(u) = &self.user {
            write!(f, "{u}@")?;
        }
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match self.port {
            Some(p) => write!(f, "{host}:{p}"),
            None => f.write_str(&host),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("bad ssh destination {input:?}: {reason}")]
pub(crate) struct DestError {
    pub input: String,
    pub reason: &'static str,
}

impl Destination {
    pub(crate) fn parse(input: &str) -> Result<Destination, DestError> {
        let err = |reason| DestError {
            input: input.to_string(),
            reason,
        };
        if input.is_empty() {
            return Err(err("empty"));
        }
        if input.starts_with('-') {
            return Err(err("starts with '-'"));
        }
        if input
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "'\"`$;&|<>\\".contains(c))
        {
            return Err(err("contains whitespace or shell characters"));
        }
        let (rest, is_uri) = match input.strip_prefix("ssh://") {
            Some(r) => (r.trim_end_matches('/'), true),
            None => (input, false),
        };
        let (user, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) => {
                if u.is_empty() {
                    return Err(err("empty user name"));
                }
                (Some(u.to_string()), h)
            }
            None => (None, rest),
        };
        let (host, port) = if let Some(after) = hostport.strip_prefix('[') {
            let (h, tail) = after.split_once(']').ok_or_else(|| err("missing ']'"))?;
            let port = match tail {
                "" => None,
                t => Some(
                    parse_port(t.strip_prefix(':').ok_or_else(|| err("junk after ']'"))?)
                        .ok_or_else(|| err("bad port"))?,
                ),
            };
            (h.to_string(), port)
        } else if hostport.matches(':').count() == 1 {
            let (h, p) = hostport.split_once(':').unwrap_or((hostport, ""));
            (
                h.to_string(),
                Some(parse_port(p).ok_or_else(|| err("bad port"))?),
            )
        } else if hostport.matches(':').count() > 1 && !is_uri {
            // A bare IPv6 address without a port, as ssh accepts it.
            (hostport.to_string(), None)
        } else if hostport.contains(':') {
            return Err(err("IPv6 addresses need brackets in ssh:// form"));
        } else {
            (hostport.to_string(), None)
        };
        if host.is_empty() {
            return Err(err("empty host name"));
        }
        if host.contains(['[', ']', '/']) {
            return Err(err("bad host name"));
        }
        // ssh would read a leading '-' as an option (`ssh://-oProxyCommand=...`).
        if host.starts_with('-') || user.as_deref().is_some_and(|u| u.starts_with('-')) {
            return Err(err("starts with '-'"));
        }
        Ok(Destination {
            user,
            host,
            port,
            ..Default::default()
        })
    }
}

fn parse_port(s: &str) -> Option<u16> {
    s.parse::<u16>().ok().filter(|p| *p != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(user: Option<&str>, host: &str, port: Option<u16>) -> Destination {
        Destination {
            user: user.map(str::to_string),
            host: host.to_string(),
            port,
            ..Default::default()
        }
    }

    #[test]
    fn accepts_every_form_ssh_users_type() {
        assert_eq!(Destination::parse("devbox"), Ok(d(None, "devbox", None)));
        assert_eq!(
            Destination::parse("bob@build1"),
            Ok(d(Some("bob"), "build1", None))
        );
        assert_eq!(
            Destination::parse("alice@10.0.0.5:2222"),
            Ok(d(Some("alice"), "10.0.0.5", Some(2222)))
        );
        assert_eq!(
            Destination::parse("[::1]:2200"),
            Ok(d(None, "::1", Some(2200)))
        );
        assert_eq!(Destination::parse("u@[::1]"), Ok(d(Some("u"), "::1", None)));
        assert_eq!(Destination::parse("::1"), Ok(d(None, "::1", None)));
        assert_eq!(
            Destination::parse("ssh://u@h.example:2022"),
            Ok(d(Some("u"), "h.example", Some(2022)))
        );
        assert_eq!(
            Destination::parse("ssh://u@[fe80::1]:22/"),
            Ok(d(Some("u"), "fe80::1", Some(22)))
        );
    }

    #[test]
    fn rejects_what_ssh_would_misread() {
        for bad in [
            "",
            "-oProxyCommand=x",
            "h:0",
            "h:99999",
            "h:",
            "@h",
            "u@",
            "[::1",
            "a b",
            "h;rm",
            "][::1",
            "a/b",
            "ssh://-",
            "ssh://-oProxyCommand=x@h",
            "ssh://u@-h",
        ] {
            assert!(Destination::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn display_round_trips() {
        for s in ["devbox", "bob@build1", "alice@10.0.0.5:2222", "[::1]:2200"] {
            assert_eq!(Destination::parse(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn destinations_take_the_odd_inputs() {
        for (_, text) in crate::test_inputs::odd_texts() {
            let _ = Destination::parse(&text);
        }
    }

    proptest::proptest! {
        #![proptest_config(crate::test_inputs::config())]
        #[test]
        fn destinations_never_panic_and_print_back(
            text in crate::test_inputs::text_from(
                &["ssh://", "@", "[", "]", ":", "::1", "22", "65536", "0", "host", "u", "/", "-", "%"],
                16,
            )
        ) {
            if let Ok(d) = Destination::parse(&text) {
                // What parses prints as a destination that parses to the same.
                proptest::prop_assert_eq!(Destination::parse(&d.to_string()), Ok(d));
            }
        }
    }
}
