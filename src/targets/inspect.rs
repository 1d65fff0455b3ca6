//! The read-only look at a shell-capable target: the request for `sh/inspect.sh`, its
//! report, and the auth.json bytes it sends back (kept secret; `ops::status` decodes them).

use super::script::{Invocation, Script};
use super::{FileKind, Forced, HomeFrom, Location, Target, TargetError};
use crate::auth::verdict::CodexSeen;
use crate::secret::SecretBytes;

pub(crate) struct InspectRequest<'a> {
    /// `--codex-home`, verbatim.
    pub codex_home: Option<&'a str>,
    /// Report which Codex version judged (`-v`, `--json`): one more process there.
    pub codex_version: bool,
}

/// What a target holds. `content` is the raw auth.json and never printed.
#[derive(Debug, Default)]
pub(crate) struct InspectReport {
    pub location: Location,
    pub kind: FileKind,
    pub file_mode: Option<String>,
    /// What `codex login status` says there (its line), and which Codex said it.
    pub codex_status: Option<String>,
    pub codex: Option<CodexSeen>,
    pub forced: Forced,
    /// Things worth knowing (Codex running there).
    pub notes: Vec<String>,
    pub content: Option<SecretBytes>,
    pub unreadable: bool,
    /// The keyring account the login was read from (this machine, keyring-held logins).
    pub keyring_account: Option<String>,
}

impl InspectReport {
    /// Where the login is: the auth.json path, or the keyring entry.
    pub(crate) fn path(&self) -> String {
        match &self.keyring_account {
            Some(account) => format!("keyring:{}/{account}", crate::auth::os_keyring::SERVICE),
            None => self.location.auth_path(),
        }
    }
}

pub(crate) async fn run<T: Target + ?Sized>(
    target: &T,
    req: &InspectRequest<'_>,
) -> Result<InspectReport, TargetError> {
    let (passwd_home, passwd_user) = match target.home_from() {
        HomeFrom::Environment => ("0", String::new()),
        HomeFrom::Passwd(user) => ("1", user),
    };
    let invocation = Invocation::new(
        Script::Inspect,
        &[
            req.codex_home.unwrap_or(""),
            passwd_home,
            &passwd_user,
            if req.codex_version { "1" } else { "0" },
        ],
        b"",
    )?;
    let out = target.run(&invocation).await?;
    let report = invocation.parse(out);
    if let Some(failure) = report.failure() {
        return Err(failure);
    }
    if let Some(mut lost) = report.lost.clone() {
        lost.message = format!("{}, while reading (reading changes nothing)", lost.message);
        return Err(lost);
    }
    let Some(kind) = report.file_kind() else {
        return Err(report.unfinished("inspect", "the target needs a POSIX sh"));
    };
    let (codex_status, codex) = report.codex().unzip();
    Ok(InspectReport {
        location: report.location(),
        kind,
        file_mode: report.get("file_mode").map(str::to_string),
        codex_status,
        codex,
        forced: report.forced(),
        notes: report.notes(),
        content: report.body()?.map(SecretBytes::new),
        unreadable: report.get("unreadable").is_some(),
        keyring_account: None,
    })
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::auth::AuthFile;

    #[tokio::test]
    async fn inspect_reads_back_exactly_the_file() {
        let (dir, sh) = crate::targets::install::tests::local();
        let auth = AuthFile::from_api_key("sk-test-inspect-00000000000000").unwrap();
        std::fs::create_dir_all(dir.path().join(".codex")).unwrap();
        std::fs::write(dir.path().join(".codex/auth.json"), auth.bytes().expose()).unwrap();
        std::fs::write(
            dir.path().join(".codex/config.toml"),
            "model = \"o\"\n  forced_login_method = 'api' # comment\nforced_chatgpt_workspace_id = [\n  \"ws-1\",\n  \"ws-2\",\n]\ncli_auth_credentials_store = \"auto\"\n[profiles.x]\nforced_login_method = \"chatgpt\"\n",
        )
        .unwrap();
        let rep = run(
            &sh,
            &InspectRequest {
                codex_home: None,
                codex_version: false,
            },
        )
        .await
        .unwrap();
        assert_eq!(rep.forced.login_method.as_deref(), Some("api"));
        assert_eq!(rep.forced.workspaces, ["ws-1", "ws-2"]);
        assert_eq!(
            rep.location.store,
            crate::auth::store::CredentialStore::Auto
        );
        assert_eq!(rep.kind, FileKind::File);
        assert_eq!(rep.content.unwrap().expose(), auth.bytes().expose());
        assert_eq!(rep.location.dir, format!("{}/.codex", dir.path().display()));
    }
}
