//! Users of a container, from its own /etc/passwd (read through the archive API, so
//! no shell or `id` is needed in the image).

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PasswdEntry {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
}

pub(crate) fn parse(text: &str) -> Vec<PasswdEntry> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 7 {
                return None;
            }
            Some(PasswdEntry {
                name: f[0].to_string(),
                uid: f[2].parse().ok()?,
                gid: f[3].parse().ok()?,
                home: f[5].to_string(),
            })
        })
        .collect()
}

/// Who a Docker user spec (`name`, `uid`, `name:group`, `uid:gid`) is. `Err(true)` when
/// the spec is numeric with no entry (usable only with an explicit CODEX_HOME).
pub(crate) fn resolve(entries: &[PasswdEntry], spec: &str) -> Result<PasswdEntry, Unresolved> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let user = if user.is_empty() { "root" } else { user };
    let found = match user.parse::<u32>() {
        Ok(uid) => entries.iter().find(|e| e.uid == uid).cloned(),
        Err(_) => entries.iter().find(|e| e.name == user).cloned(),
    };
    let gid_override = group.and_then(|g| g.parse::<u32>().ok());
    match found {
        Some(mut e) => {
            if let Some(g) = gid_override {
                e.gid = g;
            }
            Ok(e)
        }
        None => match user.parse::<u32>() {
            Ok(uid) => Err(Unresolved::NumericWithoutEntry {
                uid,
                gid: gid_override.unwrap_or(uid),
            }),
            Err(_) => Err(Unresolved::NoSuchUser(user.to_string())),
        },
    }
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Unresolved {
    NumericWithoutEntry { uid: u32, gid: u32 },
    NoSuchUser(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str =
        "root:x:0:0:root:/root:/bin/sh\n# comment\napp:x:1000:1000:app:/home/app:/bin/sh\nbroken\n";

    #[test]
    fn resolves_names_ids_and_groups() {
        let e = parse(PASSWD);
        assert_eq!(e.len(), 2);
        assert_eq!(resolve(&e, "").unwrap().name, "root");
        assert_eq!(resolve(&e, "app").unwrap().home, "/home/app");
        assert_eq!(resolve(&e, "1000").unwrap().name, "app");
        assert_eq!(resolve(&e, "app:50").unwrap().gid, 50);
        assert_eq!(
            resolve(&e, "4242"),
            Err(Unresolved::NumericWithoutEntry {
                uid: 4242,
                gid: 4242
            })
        );
        assert_eq!(
            resolve(&e, "ghost"),
            Err(Unresolved::NoSuchUser("ghost".into()))
        );
    }

    #[test]
    fn passwd_takes_the_odd_inputs() {
        for (_, text) in crate::test_inputs::odd_texts() {
            let _ = parse(&text);
        }
    }

    proptest::proptest! {
        #![proptest_config(crate::test_inputs::config())]
        #[test]
        fn passwd_never_panics(
            text in crate::test_inputs::text_from(&[":", "root", "0", "1000", "4294967296", "/home/x", "\n", "#", "x"], 40),
            spec in crate::test_inputs::text_from(&[":", "root", "0", "1000", "4294967296", "nobody"], 4),
        ) {
            let entries = parse(&text);
            let _ = resolve(&entries, &spec);
        }
    }
}
