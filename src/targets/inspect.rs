//! The read-only look at a shell-capable target: the request for `sh/inspect.sh`, its
//! report, and the auth.json bytes it sends back (kept secret; `ops::status` decodes them).

use super::script::{Invocation, Script};
use super::{FileKind, HomeFrom, Location, Target, TargetError};
use crate::secret::SecretBytes;

pub(crate) struct InspectRequest<'a> {
    /// `--codex-home`, verbatim.
    pub codex_home: Option<&'a str>,
}

/// What a target holds. `content` is the raw auth.json and never printed.
#[derive(Debug, Default)]
pub(crate) struct InspectReport {
    pub location: Location,
    pub kind: FileKind,
    pub file_mode: Option<String>,
    pub codex_status: Option<String>,
    pub content: Option<SecretBytes>,
    pub unreadable: bool,
}

impl InspectReport {
    pub(crate) fn path(&self) -> String {
        self.location.auth_path()
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
        &[req.codex_home.unwrap_or(""), passwd_home, &passwd_user],
        b"",
    )?;
    let out = target.run(&invocation).await?;
    let report = invocation.parse(out);
    if let Some(failure) = report.failure() {
        return Err(failure);
    }
    let Some(kind) = report.file_kind() else {
        return Err(report.unfinished("inspect", "the target needs a POSIX sh"));
    };
    Ok(InspectReport {
        location: report.location(),
        kind,
        file_mode: report.get("file_mode").map(str::to_string),
        codex_status: report.codex_verdict(),
        content: report.body()?.map(SecretBytes::new),
        unreadable: report.get("unreadable").is_some(),
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
        let rep = run(&sh, &InspectRequest { codex_home: None })
            .await
            .unwrap();
        assert_eq!(rep.kind, FileKind::File);
        assert_eq!(rep.content.unwrap().expose(), auth.bytes().expose());
        assert_eq!(rep.location.dir, format!("{}/.codex", dir.path().display()));
    }
}
