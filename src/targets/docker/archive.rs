//! The Docker archive transport: install and inspect a login in a container that runs
//! no shell for us (stopped, or without `sh`), through the engine's archive API. The
//! user and home come from the container's /etc/passwd, the Codex home from the one
//! resolver (`auth::home`), as the script's `locate` finds them on a running container;
//! the file goes up in a tar built here with the user's numeric ids and modes in its
//! headers, and is read back and checked. Nothing there can take Codex's locks, and the
//! API cannot remove files: a removal needs the shell.

use super::super::{
    ErrorClass, Expect, FileKind, InspectReport, InspectRequest, InstallReport, InstallRequest,
    Location, NowHolds, Outcome, Previous, TargetError,
};
use crate::auth::home::{self, HomeInputs, NoHome};
use crate::auth::store::{CodexConfig, CredentialStore};
use crate::docker::passwd::{self, Unresolved};
use crate::docker::{Container, DockerError, Engine, Entry};
use crate::secret::SecretBytes;

/// One container, as the archive API reaches it.
pub(super) struct Archive<'a> {
    pub engine: &'a Engine,
    pub container: &'a Container,
    /// `--docker-user`; `None` means the container's configured user.
    pub user: Option<&'a str>,
}

/// Whose login, and where, as the archive API finds it.
struct Place {
    who: Who,
    dir: String,
    home_from: home::HomeSource,
    config: CodexConfig,
}

struct Who {
    uid: u32,
    gid: u32,
    name: String,
    home: Option<String>,
}

impl Archive<'_> {
    async fn who(&self) -> Result<Who, TargetError> {
        let spec = self.user.unwrap_or(&self.container.user);
        let text = match self.engine.read(self.container, "/etc/passwd").await? {
            Some(Entry::File { content, .. }) => String::from_utf8_lossy(&content).into_owned(),
            _ => String::new(),
        };
        match passwd::resolve(&passwd::parse(&text), spec) {
            Ok(e) => Ok(Who {
                uid: e.uid,
                gid: e.gid,
                name: e.name,
                home: Some(e.home),
            }),
            Err(Unresolved::NumericWithoutEntry { uid, gid }) => Ok(Who {
                uid,
                gid,
                name: uid.to_string(),
                home: None,
            }),
            Err(Unresolved::NoSuchUser(u)) => Err(DockerError::NoSuchUser {
                user: u,
                container: self.container.name.clone(),
            }
            .into()),
        }
    }

    /// Whose home, which directory, and its config: what `locate` in common.sh finds,
    /// read through the archive API instead.
    async fn locate(&self, codex_home: Option<&str>) -> Result<Place, TargetError> {
        let who = self.who().await?;
        let (dir, home_from) = home::resolve(&HomeInputs {
            flag: codex_home,
            env: self.container.env_var("CODEX_HOME"),
            user_home: who.home.as_deref(),
            start_dir: &self.container.working_dir,
        })
        .map_err(|e| {
            let why = match e {
                NoHome::Unknown => "has no entry in /etc/passwd",
                NoHome::Root => "has / (or nothing) as home directory",
                NoHome::IsRoot => "would get / as CODEX_HOME",
            };
            TargetError::new(
                ErrorClass::NoHome,
                format!(
                    "user {} in container {} {why}; refusing to guess where Codex looks",
                    who.name, self.container.name
                ),
                Some("pass --codex-home PATH"),
            )
        })?;
        let config = match self
            .engine
            .read(self.container, &format!("{dir}/config.toml"))
            .await?
        {
            Some(Entry::File { content, .. }) => {
                CodexConfig::parse(&String::from_utf8_lossy(&content))
            }
            _ => CodexConfig::default(),
        };
        Ok(Place {
            who,
            dir,
            home_from,
            config,
        })
    }

    /// Install through the archive API, `why_direct` saying why there is no shell.
    pub(super) async fn install(
        &self,
        req: &InstallRequest<'_>,
        why_direct: &str,
    ) -> Result<InstallReport, TargetError> {
        let Place {
            who,
            dir,
            home_from,
            config,
        } = self.locate(req.codex_home).await?;
        let store = config.store;
        let location = Location {
            dir: dir.clone(),
            home_from,
            user: who.name.clone(),
            store,
        };
        let path = location.auth_path();
        if let Some(why) = config.forced.refuses(req.auth) {
            let class = if why.starts_with("forced_login_method") {
                ErrorClass::ForcedLogin
            } else {
                ErrorClass::ForcedWorkspace
            };
            return Err(TargetError::new(
                class,
                format!("{dir}/config.toml: {why}; Codex there would refuse it"),
                class.default_hint(),
            ));
        }
        if let Some(m) = self.container.tmpfs_under(&dir) {
            return Err(TargetError::new(
                ErrorClass::Tmpfs,
                format!(
                    "{dir} is on a tmpfs mounted at {m}, and {why_direct}: the Docker API would write below the mount, where nothing in the container sees it"
                ),
                Some("start the container (with a shell) or pass --codex-home on a persistent path"),
            ));
        }
        let mut report = InstallReport::new(Outcome::WouldInstall, &location);
        // As on running targets (install.sh): keyring and ephemeral are skipped; auto is
        // written, since no shell runs a D-Bus session here for Codex to reach a keyring on.
        match store {
            CredentialStore::Keyring | CredentialStore::Ephemeral if !req.force => {
                report.outcome = Outcome::Skipped;
                report
                    .notes
                    .push(super::super::install::skip_reason(store));
                return Ok(report);
            }
            CredentialStore::Auto => report.notes.push(format!(
                "no D-Bus session runs in the container ({why_direct}), so no OS keyring: with cli_auth_credentials_store = \"auto\", Codex reads auth.json"
            )),
            _ => {}
        }

        self.check_home_safe(&dir, &who).await?;
        let want = req.auth.bytes().expose();
        let existing = self.engine.read(self.container, &path).await?;
        check_expected(req.expect.as_ref(), existing.as_ref(), &path)?;
        let mut old_content = None;
        let mut in_place = false;
        match &existing {
            None => {}
            Some(Entry::Symlink) => report.previous = Previous::Symlink,
            Some(Entry::File {
                content, mode, uid, ..
            }) => {
                if content.as_slice() == want {
                    report.previous = Previous::Same;
                    in_place = *mode == 0o600 && *uid == u64::from(who.uid);
                } else {
                    report.previous = Previous::Different;
                    old_content = Some(content.clone());
                }
            }
            Some(Entry::Dir) | Some(Entry::Other) => {
                return Err(TargetError::new(
                    ErrorClass::NotAFile,
                    format!("{path} is not a regular file"),
                    Some("move it out of the way"),
                ))
            }
        }
        if req.dry_run {
            report.outcome = if report.previous == Previous::Same {
                Outcome::Unchanged
            } else {
                Outcome::WouldInstall
            };
            return Ok(report);
        }
        if in_place {
            report.outcome = Outcome::Unchanged;
        } else {
            self.upload_tree(&dir, &who, want, old_content.as_deref())
                .await?;
            if old_content.is_some() {
                report.backup = Some(format!("{dir}/auth.json.bak"));
            }
            report.outcome = if report.previous == Previous::Same {
                report.notes.push("modes and owner fixed".into());
                Outcome::Unchanged
            } else {
                Outcome::Installed
            };
            report.notes.push(format!(
                "written directly through the Docker API ({why_direct}), not by rename and without Codex's locks (auth.lock, auth.json.lock): nothing there can run flock"
            ));
        }

        // Read back: content, mode, owner.
        match self.engine.read(self.container, &path).await? {
            Some(Entry::File {
                content, mode, uid, ..
            }) => {
                let same = crate::encoding::sha256_hex(&content) == req.auth.sha256_hex();
                if !same || mode != 0o600 || uid != u64::from(who.uid) {
                    return Err(TargetError::new(
                        ErrorClass::Verify,
                        format!("{path} does not hold what was written (mode {mode:o}, uid {uid})"),
                        None,
                    ));
                }
                report.file_mode = Some("-rw-------".into());
                report.verified = true;
            }
            _ => {
                return Err(TargetError::new(
                    ErrorClass::Verify,
                    format!("{path} is missing after writing"),
                    None,
                ))
            }
        }
        Ok(report)
    }

    /// Inspect through the archive API.
    pub(super) async fn inspect(
        &self,
        req: &InspectRequest<'_>,
    ) -> Result<InspectReport, TargetError> {
        let Place {
            who,
            dir,
            home_from,
            config,
        } = self.locate(req.codex_home).await?;
        let mut report = InspectReport {
            location: Location {
                dir,
                home_from,
                user: who.name.clone(),
                store: config.store,
            },
            forced: config.forced,
            ..Default::default()
        };
        match self.engine.read(self.container, &report.path()).await? {
            None => {}
            Some(Entry::File { content, mode, .. }) => {
                report.kind = FileKind::File;
                report.file_mode = Some(mode_string(mode));
                report.content = Some(std::sync::Arc::new(SecretBytes::new(content)));
            }
            Some(Entry::Symlink) => report.kind = FileKind::Symlink,
            Some(Entry::Dir) => report.kind = FileKind::Dir,
            Some(Entry::Other) => report.kind = FileKind::Other,
        }
        Ok(report)
    }

    /// As `check_home_safe` in common.sh: the deepest existing directory on the way to
    /// `dir` and those above it, up to the user's home (or /), must belong to the user or
    /// root and not be writable by group or others unless sticky. A process in a running
    /// container without a shell could otherwise replace what is written.
    async fn check_home_safe(&self, dir: &str, who: &Who) -> Result<(), TargetError> {
        let stop = who.home.as_deref().map(|h| h.trim_end_matches('/'));
        let mut at = dir.trim_end_matches('/').to_string();
        let mut found = false;
        loop {
            let path = if at.is_empty() { "/" } else { at.as_str() };
            match self.engine.stat(self.container, path).await? {
                Some(st) if st.dir => {
                    found = true;
                    let foreign = st.uid != u64::from(who.uid) && st.uid != 0;
                    let loose = st.mode & 0o022 != 0 && st.mode & 0o1000 == 0;
                    if foreign || loose {
                        return Err(TargetError::new(
                            ErrorClass::UnsafeHome,
                            format!(
                                "{path} (owner uid {}, mode {:04o}) can be written by others than the login user: nothing was written to {dir}",
                                st.uid, st.mode
                            ),
                            ErrorClass::UnsafeHome.default_hint(),
                        ));
                    }
                }
                // Nothing yet, or a link on the way (the engine resolves it in the
                // container): the directory above is the one that counts.
                _ => {}
            }
            if (found && stop == Some(path)) || at.is_empty() {
                return Ok(());
            }
            match at.rfind('/') {
                Some(i) => at.truncate(i),
                None => return Ok(()),
            }
        }
    }

    /// Upload `dir/auth.json` (and `auth.json.bak`) as one tar, rooted at the deepest
    /// existing ancestor so existing directories above `dir` keep their modes.
    async fn upload_tree(
        &self,
        dir: &str,
        who: &Who,
        content: &[u8],
        backup: Option<&[u8]>,
    ) -> Result<(), TargetError> {
        let components: Vec<&str> = dir.split('/').filter(|c| !c.is_empty()).collect();
        // Try with the parent of `dir` as root, then one level up at a time.
        for created in 1..=components.len() {
            let root_parts = &components[..components.len() - created];
            let root = format!("/{}", root_parts.join("/"));
            let new_dirs = &components[components.len() - created..];
            let tar = build_tar(new_dirs, who, content, backup).map_err(|e| {
                TargetError::new(
                    ErrorClass::Io,
                    format!("cannot build the archive: {e}"),
                    None,
                )
            })?;
            match self.engine.upload(self.container, &root, tar).await {
                Ok(()) => return Ok(()),
                Err(DockerError::Api { status: 404, .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(TargetError::new(
            ErrorClass::Io,
            format!("cannot create {dir} in the container"),
            None,
        ))
    }
}

/// The compare-and-swap precondition against what the archive API read (no lock can be
/// taken there: a stopped container has nothing running to race with).
fn check_expected(
    expect: Option<&Expect>,
    existing: Option<&Entry>,
    path: &str,
) -> Result<(), TargetError> {
    let Some(expect) = expect else {
        return Ok(());
    };
    let now = match existing {
        None => None,
        Some(Entry::File { content, .. }) => Some(content.as_slice()),
        // Nothing readable there: never the login expected, never nothing.
        Some(_) => Some(&b""[..]),
    };
    if expect.met_by(now) {
        return Ok(());
    }
    Err(TargetError::changed(
        path,
        match (expect, now) {
            (Expect::Nothing, _) => NowHolds::Something,
            (Expect::Holds(_), None) => NowHolds::Nothing,
            (Expect::Holds(_), Some(_)) => NowHolds::Another,
        },
    ))
}

/// `ls -l` style permissions of a regular file.
fn mode_string(mode: u32) -> String {
    let mut s = String::from("-");
    for shift in [6, 3, 0] {
        let bits = (mode >> shift) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        s.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    s
}

/// A tar with `new_dirs` (the last is the Codex home: 0700; those above: 0755), the file
/// (0600) and optionally the backup (0600), all owned by the target user's numeric ids.
fn build_tar(
    new_dirs: &[&str],
    who: &Who,
    content: &[u8],
    backup: Option<&[u8]>,
) -> std::io::Result<Vec<u8>> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut builder = tar::Builder::new(Vec::new());
    let header =
        |kind: tar::EntryType, path: &str, mode: u32, size: u64| -> std::io::Result<tar::Header> {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(kind);
            h.set_path(path)?;
            h.set_mode(mode);
            h.set_uid(u64::from(who.uid));
            h.set_gid(u64::from(who.gid));
            h.set_size(size);
            h.set_mtime(now);
            h.set_cksum();
            Ok(h)
        };
    let mut path = String::new();
    for (i, d) in new_dirs.iter().enumerate() {
        if !path.is_empty() {
            path.push('/');
        }
        path.push_str(d);
        let mode = if i + 1 == new_dirs.len() {
            0o700
        } else {
            0o755
        };
        builder.append(
            &header(tar::EntryType::Directory, &format!("{path}/"), mode, 0)?,
            std::io::empty(),
        )?;
    }
    let files = backup
        .map(|old| ("auth.json.bak", old))
        .into_iter()
        .chain([("auth.json", content)]);
    for (name, bytes) in files {
        let h = header(
            tar::EntryType::Regular,
            &format!("{path}/{name}"),
            0o600,
            bytes.len() as u64,
        )?;
        builder.append(&h, bytes)?;
    }
    builder.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_carries_numeric_owner_and_modes() {
        let who = Who {
            uid: 1000,
            gid: 1001,
            name: "app".into(),
            home: Some("/home/app".into()),
        };
        let tar = build_tar(&["srv", "codex"], &who, b"{}", Some(b"old")).unwrap();
        let mut a = tar::Archive::new(tar.as_slice());
        let got: Vec<(String, u32, u64, u64)> = a
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                (
                    e.path().unwrap().display().to_string(),
                    h.mode().unwrap(),
                    h.uid().unwrap(),
                    h.gid().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("srv/".into(), 0o755, 1000, 1001),
                ("srv/codex/".into(), 0o700, 1000, 1001),
                ("srv/codex/auth.json.bak".into(), 0o600, 1000, 1001),
                ("srv/codex/auth.json".into(), 0o600, 1000, 1001),
            ]
        );
    }

    #[test]
    fn the_precondition_reads_what_the_archive_holds() {
        use crate::auth::expect::Fingerprint;
        let file = Entry::File {
            content: b"{\"a\":1}".to_vec(),
            mode: 0o600,
            uid: 0,
        };
        let holds = Expect::Holds(Fingerprint::of(b"{\"a\":1}"));
        assert!(check_expected(Some(&holds), Some(&file), "/p").is_ok());
        assert!(check_expected(Some(&Expect::Nothing), None, "/p").is_ok());
        let e = check_expected(Some(&Expect::Nothing), Some(&file), "/p").unwrap_err();
        assert_eq!(e.class, ErrorClass::Changed);
        assert!(check_expected(Some(&holds), None, "/p").is_err());
        assert!(check_expected(Some(&holds), Some(&Entry::Symlink), "/p").is_err());
        assert!(check_expected(None, Some(&Entry::Symlink), "/p").is_ok());
    }
}
