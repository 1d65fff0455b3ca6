//! Where a Codex home is, decided once for every place whose home is resolved here
//! (this machine, and a container written through the Docker archive API), exactly as
//! the target scripts decide it in sh (`locate` in `targets/script/sh/common.sh`): the
//! `--codex-home` given, else `$CODEX_HOME` there, else `~/.codex` of the user; `~` is
//! the user's home, and a relative path is taken from the directory a command there
//! starts in. A user without a usable home is refused, never guessed at (`/.codex`).

use serde::{Deserialize, Serialize};

/// Where the Codex home of a place came from: `--codex-home`, `$CODEX_HOME` there, or
/// `~/.codex` of the user.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum HomeSource {
    Flag,
    Env,
    #[default]
    #[serde(other)]
    Default,
}

/// What the resolver knows of a place.
pub(crate) struct HomeInputs<'a> {
    /// `--codex-home`, verbatim.
    pub flag: Option<&'a str>,
    /// `$CODEX_HOME` there (empty counts as unset).
    pub env: Option<&'a str>,
    /// The user's home directory (`None`: the user has none on record).
    pub user_home: Option<&'a str>,
    /// The directory a command there starts in.
    pub start_dir: &'a str,
}

/// Why no Codex home can be named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NoHome {
    /// The user has no home on record (no passwd entry, no HOME).
    Unknown,
    /// The user's home is `/` or empty.
    Root,
    /// What was given comes to `/` itself.
    IsRoot,
}

/// The Codex home (absolute, without a trailing `/`) and where it came from.
pub(crate) fn resolve(inputs: &HomeInputs<'_>) -> Result<(String, HomeSource), NoHome> {
    let home = || -> Result<&str, NoHome> {
        match inputs.user_home {
            None => Err(NoHome::Unknown),
            Some("") | Some("/") => Err(NoHome::Root),
            Some(h) => Ok(h.trim_end_matches('/')),
        }
    };
    let absolute = |path: &str| -> String {
        if path.starts_with('/') {
            path.to_string()
        } else {
            format!("{}/{path}", inputs.start_dir.trim_end_matches('/'))
        }
    };
    let (dir, source) = match (inputs.flag, inputs.env.filter(|v| !v.is_empty())) {
        (Some("~"), _) => (home()?.to_string(), HomeSource::Flag),
        (Some(flag), _) if flag.starts_with("~/") => {
            (format!("{}/{}", home()?, &flag[2..]), HomeSource::Flag)
        }
        (Some(flag), _) => (absolute(flag), HomeSource::Flag),
        (None, Some(env)) => (absolute(env), HomeSource::Env),
        (None, None) => (format!("{}/.codex", home()?), HomeSource::Default),
    };
    let dir = dir.trim_end_matches('/').to_string();
    if dir.is_empty() {
        return Err(NoHome::IsRoot);
    }
    Ok((dir, source))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(flag: Option<&str>, env: Option<&str>, home: Option<&str>) -> Result<String, NoHome> {
        resolve(&HomeInputs {
            flag,
            env,
            user_home: home,
            start_dir: "/work",
        })
        .map(|(d, _)| d)
    }

    #[test]
    fn flag_then_environment_then_the_users_home() {
        let home = Some("/home/app/");
        assert_eq!(at(None, None, home), Ok("/home/app/.codex".into()));
        assert_eq!(at(None, Some(""), home), Ok("/home/app/.codex".into()));
        assert_eq!(at(None, Some("/srv/codex/"), home), Ok("/srv/codex".into()));
        assert_eq!(at(None, Some("rel"), home), Ok("/work/rel".into()));
        assert_eq!(at(Some("~"), Some("/x"), home), Ok("/home/app".into()));
        assert_eq!(at(Some("~/c"), None, home), Ok("/home/app/c".into()));
        assert_eq!(at(Some("/abs"), Some("/x"), None), Ok("/abs".into()));
        assert_eq!(at(Some("rel"), None, None), Ok("/work/rel".into()));
        assert_eq!(at(None, None, None), Err(NoHome::Unknown));
        assert_eq!(at(None, None, Some("/")), Err(NoHome::Root));
        assert_eq!(at(Some("~/x"), None, Some("")), Err(NoHome::Root));
        assert_eq!(at(Some("/"), None, home), Err(NoHome::IsRoot));
        let (_, source) = resolve(&HomeInputs {
            flag: None,
            env: Some("/e"),
            user_home: None,
            start_dir: "/",
        })
        .unwrap();
        assert_eq!(source, HomeSource::Env);
    }
}
