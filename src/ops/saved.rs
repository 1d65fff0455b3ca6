//! Several accounts on this machine: `save NAME` keeps the current login under a name,
//! `switch NAME` makes a saved login the current one (first writing the outgoing login
//! back to its own name when Codex refreshed it meanwhile, so no refresh is lost), and
//! `forget NAME` drops one (with `--revoke`, ending its session at the issuer). A switch
//! is refused while a Codex runs with this Codex home.

use std::time::Duration;

use crate::auth::local::{self, LocalHome, WriteOptions};
use crate::auth::AuthFile;
use crate::error::AppError;
use crate::saved::SavedLogins;
use crate::targets::Expect;

fn store() -> Result<SavedLogins, AppError> {
    SavedLogins::open().ok_or_else(|| {
        AppError::failed(
            "no state directory for saved logins",
            Some("set HOME (or XDG_STATE_HOME)".into()),
        )
    })
}

fn bad_name(e: String) -> AppError {
    AppError::usage(
        e,
        Some("name a saved login with letters, digits, `.`, `_`, `-` or `@` (`codex-auth status --saved` lists them)"),
    )
}

/// The same login at any generation: the same ChatGPT sign-in, or the same key or
/// access token (which never change).
fn same_login(a: &AuthFile, b: &AuthFile) -> bool {
    a.same_sign_in(b)
        || (!a.is_rotating_session() && !b.is_rotating_session() && a.same_account(b))
        || a.bytes().expose() == b.bytes().expose()
}

/// What `save` did.
pub(crate) struct SaveResult {
    pub name: String,
    pub login: AuthFile,
    /// `false`: the name already held a newer copy of this sign-in, which was kept.
    pub written: bool,
}

/// `save NAME`: keep this machine's current login under `name`. A name holding another
/// sign-in is replaced only with `force`; one holding a newer copy of this sign-in is
/// kept.
pub(crate) fn save(name: &str, force: bool) -> Result<SaveResult, AppError> {
    crate::saved::check_name(name).map_err(bad_name)?;
    let current = crate::targets::this_machines_login().ok_or_else(|| {
        AppError::failed(
            "this machine has no login to save",
            Some("sign in first (`codex-auth login`), or `codex-auth login --save NAME`".into()),
        )
    })?;
    save_as(name, current, force)
}

/// The name is good and the saved logins can be read (before a sign-in for it).
pub(crate) fn check_store(name: &str) -> Result<(), AppError> {
    crate::saved::check_name(name).map_err(bad_name)?;
    store()?
        .load(name)
        .map(|_| ())
        .map_err(|e| AppError::failed(e, None))
}

/// Keep `current` under `name`: a name holding another sign-in is replaced only with
/// `force`; one holding a newer copy of this sign-in is kept.
pub(crate) fn save_as(name: &str, current: AuthFile, force: bool) -> Result<SaveResult, AppError> {
    crate::saved::check_name(name).map_err(bad_name)?;
    let saved = store()?;
    let existing = saved.load(name).map_err(|e| AppError::failed(e, None))?;
    if let Some(e) = &existing {
        if e.same_sign_in(&current) {
            if e.generation() > current.generation() {
                return Ok(SaveResult {
                    name: name.into(),
                    login: e.clone(),
                    written: false,
                });
            }
        } else if e.bytes().expose() != current.bytes().expose() && !force {
            return Err(AppError::failed(
                format!(
                    "{name} holds another login ({}); not replaced",
                    local::describe_account(e)
                ),
                Some("save under another name, or pass --force to replace it".into()),
            ));
        }
    }
    saved
        .store(name, &current)
        .map_err(|e| AppError::failed(e, None))?;
    Ok(SaveResult {
        name: name.into(),
        login: current,
        written: true,
    })
}

/// What `switch` did.
pub(crate) struct SwitchResult {
    pub name: String,
    pub login: AuthFile,
    /// The outgoing login, written back to its name because it was newer there.
    pub kept_as: Option<String>,
    /// It was the current login already.
    pub already: bool,
}

/// `switch NAME`: make the login saved as `name` this machine's login. `wait` is how
/// long to wait for Codex processes using this Codex home to end (zero: refuse at once).
pub(crate) fn switch(
    name: &str,
    wait: Duration,
    lock_wait: Duration,
    note: &dyn Fn(&str),
) -> Result<SwitchResult, AppError> {
    crate::saved::check_name(name).map_err(bad_name)?;
    let saved = store()?;
    let target = saved
        .load(name)
        .map_err(|e| AppError::failed(e, None))?
        .ok_or_else(|| {
            let names = saved.names();
            AppError::usage(
                format!("no saved login {name:?}"),
                Some(&if names.is_empty() {
                    "save one first: `codex-auth save NAME`".to_string()
                } else {
                    format!("saved logins: {}", names.join(", "))
                }),
            )
        })?;
    let home = LocalHome::resolve().ok_or_else(|| {
        AppError::failed(
            "no home directory for Codex",
            Some("set HOME or CODEX_HOME".into()),
        )
    })?;
    // A Codex running on this home would write its refresh over the switch.
    let deadline = std::time::Instant::now() + wait;
    let mut told = false;
    loop {
        let pids = crate::auth::running::codex_processes_using(&home.dir);
        if pids.is_empty() {
            break;
        }
        let list = pids
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        if std::time::Instant::now() >= deadline {
            return Err(AppError::failed(
                format!(
                    "Codex is running with {} (PID {list}); not switched",
                    home.dir.display()
                ),
                Some("quit it first, or pass --wait SECS to wait for it".into()),
            ));
        }
        if !told {
            note(&format!("waiting for Codex (PID {list}) to end"));
            told = true;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let read = crate::targets::this_machines_login_as_read();
    let current = read.as_ref().map(|(auth, _)| auth.clone());
    let mut kept_as = None;
    if let Some(cur) = &current {
        if cur.bytes().expose() == target.bytes().expose() {
            return Ok(SwitchResult {
                name: name.into(),
                login: target,
                kept_as: None,
                already: true,
            });
        }
        // The outgoing login goes back to its own name when Codex refreshed it here.
        let home_of = saved.names().into_iter().find_map(|n| {
            let l = saved.load(&n).ok()??;
            same_login(&l, cur).then_some((n, l))
        });
        match home_of {
            Some((n, l)) => {
                if cur.generation() > l.generation() {
                    saved
                        .store(&n, cur)
                        .map_err(|e| AppError::failed(e, None))?;
                    kept_as = Some(n.clone());
                }
                if n == name && cur.generation() >= target.generation() {
                    // The current login is the newest copy of NAME: nothing to switch.
                    return Ok(SwitchResult {
                        name: name.into(),
                        login: cur.clone(),
                        kept_as,
                        already: true,
                    });
                }
            }
            None => {
                return Err(AppError::failed(
                    format!(
                        "the current login ({}) is saved under no name; switching would lose it",
                        local::describe_account(cur)
                    ),
                    Some("save it first: `codex-auth save NAME`".into()),
                ))
            }
        }
    }
    // (of what was read where it is kept: a keyring entry's compact form, or the file)
    let expect = match read {
        Some((_, fingerprint)) => Expect::Holds(fingerprint),
        None => Expect::Nothing,
    };
    let opts = WriteOptions {
        force: true,
        lock_wait,
        expect: Some(&expect),
        dry_run: false,
    };
    local::save_login(&home, &target, &opts).map_err(|e| {
        AppError::failed(
            format!("not switched: {e}"),
            e.hint()
                .or(Some("run `codex-auth status` and try again".into())),
        )
    })?;
    Ok(SwitchResult {
        name: name.into(),
        login: target,
        kept_as,
        already: false,
    })
}

/// `forget NAME`: drop the saved login; it is returned (to revoke it).
pub(crate) fn forget(name: &str) -> Result<AuthFile, AppError> {
    crate::saved::check_name(name).map_err(bad_name)?;
    let saved = store()?;
    let login = saved
        .load(name)
        .map_err(|e| AppError::failed(e, None))?
        .ok_or_else(|| {
            AppError::usage(
                format!("no saved login {name:?}"),
                Some("`codex-auth status --saved` lists them"),
            )
        })?;
    saved.remove(name).map_err(|e| AppError::failed(e, None))?;
    Ok(login)
}

/// One saved login, for `status --saved`.
pub(crate) struct SavedView {
    pub name: String,
    pub login: Result<AuthFile, String>,
    /// Places the ledger says hold this sign-in.
    pub places: Vec<String>,
    /// It is this machine's current login (the same sign-in).
    pub current: bool,
}

/// Every saved login.
pub(crate) fn list() -> Result<Vec<SavedView>, AppError> {
    let saved = store()?;
    let entries = crate::ledger::Ledger::open()
        .map(|l| l.entries().0)
        .unwrap_or_default();
    let current = crate::targets::this_machines_login();
    Ok(saved
        .names()
        .into_iter()
        .map(|name| {
            let login = saved
                .load(&name)
                .and_then(|l| l.ok_or_else(|| "gone".into()));
            let places = match &login {
                Ok(l) => {
                    let key = crate::ledger::session_key(l);
                    entries
                        .iter()
                        .filter(|e| match (&e.lineage, &l.lineage) {
                            (Some(a), Some(b)) => a == b,
                            _ => e.session == key,
                        })
                        .map(|e| e.place.clone())
                        .collect()
                }
                Err(_) => Vec::new(),
            };
            let current = matches!((&login, &current), (Ok(l), Some(c)) if same_login(l, c));
            SavedView {
                name,
                login,
                places,
                current,
            }
        })
        .collect())
}

/// End `login`'s session at `issuer` (the one this machine trusts), naming the places
/// the ledger says hold it first; API keys and access tokens cannot be revoked here.
pub(crate) async fn revoke(
    login: &AuthFile,
    issuer: &crate::login::Issuer,
    sink: &dyn super::ProgressSink,
) -> Result<String, String> {
    let Some(token) = login.refresh_token() else {
        return Err(format!(
            "{} has no refresh token to revoke",
            local::describe_account(login)
        ));
    };
    let (named, client) = login.provenance();
    if let Some(other) = named
        .as_deref()
        .map(|b| b.trim_end_matches('/'))
        .filter(|b| *b != issuer.base)
    {
        return Err(format!(
            "not revoked: the login names another issuer ({other}) than {}; if you trust it, run again with --issuer {other}",
            issuer.base
        ));
    }
    let entries = crate::ledger::Ledger::open()
        .map(|l| l.entries().0)
        .unwrap_or_default();
    let key = crate::ledger::session_key(login);
    let holders: Vec<String> = entries
        .iter()
        .filter(|e| match (&e.lineage, &login.lineage) {
            (Some(a), Some(b)) => a == b,
            _ => e.session == key,
        })
        .map(crate::ledger::describe)
        .collect();
    sink.warn(&format!(
        "revoking the ChatGPT session of {} at {}: {}",
        local::describe_account(login),
        issuer.base,
        if holders.is_empty() {
            "no other place is known to hold it".to_string()
        } else {
            format!("this also signs out {}", holders.join(", "))
        }
    ));
    let issuer = crate::login::Issuer {
        base: issuer.base.clone(),
        client_id: client.unwrap_or_else(|| issuer.client_id.clone()),
    };
    crate::login::revoke_refresh_token(&issuer, &token)
        .await
        .map(|()| issuer.base.clone())
        .map_err(|e| login.scrub(&e.to_string()))
}
