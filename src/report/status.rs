//! What `status` shows: one row per place (this machine first), shared-session and
//! credential-store warnings, or one JSON document.

use serde::Serialize;

use super::push::JsonSummary;
use super::{json_text, login_detail, render_table, scrub, Verbosity};
use crate::auth::store::CredentialStore;
use crate::auth::AuthSummary;
use crate::ledger::LeaseEntry;
use crate::ops::status::{LoginState, PlaceResult, PlaceStatus, SessionView, StatusResults};
use crate::targets::{Fingerprint, HomeSource, TargetError};

/// Every login any place holds, for scrubbing.
fn logins(places: &[PlaceResult]) -> impl Iterator<Item = &crate::auth::AuthFile> {
    places
        .iter()
        .filter_map(|p| p.result.as_ref().ok().and_then(PlaceStatus::login))
}

/// The status's result document on stdout: the table, or `--json`'s document.
pub(crate) fn print(status: &StatusResults, output: &super::Output) {
    super::print_stdout(&if output.json {
        json(&status.places, &status.sessions, &status.leases)
    } else {
        let text = table(&status.places, output.verbosity)
            + &sessions(&status.sessions)
            + &leases(&status.leases);
        scrub(text, logins(&status.places))
    });
}

/// A copy that expires within this long gets a warning: a daily sync may come too late.
const EXPIRES_SOON: i64 = 86_400;

/// One line per sign-in held at several places, and a warning for each access-only
/// copy about to expire.
fn sessions(sessions: &[SessionView]) -> String {
    let now = crate::timestamp::now_unix();
    let mut out = String::new();
    for s in sessions {
        let mut parts = vec![format!("newest at {}", s.newest)];
        if s.full.len() > 1 {
            parts.push(format!("full copies at {}", s.full.join(", ")));
        }
        if !s.access_only.is_empty() {
            let list: Vec<String> = s
                .access_only
                .iter()
                .map(|c| match c.access_expires {
                    Some(e) if e < now => format!("{} (expired)", c.place),
                    Some(e) => format!(
                        "{} (expires in {})",
                        c.place,
                        crate::timestamp::human(e - now)
                    ),
                    None => c.place.clone(),
                })
                .collect();
            parts.push(format!("access-only at {}", list.join(", ")));
        }
        if !s.behind.is_empty() {
            parts.push(format!("behind: {}", s.behind.join(", ")));
        }
        parts.push(match s.last_sync {
            Some(t) => format!("last sync {}", crate::timestamp::utc(t)),
            None => "never synced (`codex-auth sync` keeps every copy fresh)".into(),
        });
        out.push_str(&format!("session of {}: {}\n", s.account, parts.join("; ")));
        for c in &s.access_only {
            let p = &c.place;
            if let Some(e) = &c.access_expires {
                if *e - now < EXPIRES_SOON {
                    out.push_str(&format!(
                        "warning: the access-only copy at {p} {}: run `codex-auth sync` before then (or `codex-auth sync --install-timer`)\n",
                        if *e < now {
                            "has expired".to_string()
                        } else {
                            format!("expires in {}", crate::timestamp::human(e - now))
                        }
                    ));
                }
            }
        }
    }
    out
}

/// One line per login lent by a `run` that still runs.
fn leases(leases: &[LeaseEntry]) -> String {
    leases
        .iter()
        .map(|l| {
            format!(
                "lent by a run (pid {}) since {}: {} copy of {} at {} ({})\n",
                l.pid,
                crate::timestamp::utc(l.at),
                if l.access_only {
                    "an access-only"
                } else {
                    "a full"
                },
                l.account,
                l.place,
                l.lease
            )
        })
        .collect()
}

fn table(places: &[PlaceResult], verbosity: Verbosity) -> String {
    let mut rows = vec![vec![
        "PLACE".to_string(),
        "LOGIN".into(),
        "STORE".into(),
        "CODEX".into(),
        "DETAIL".into(),
    ]];
    let mut warnings = Vec::new();
    for p in places {
        let row = match &p.result {
            Ok(st) => {
                let (login, mut detail) = match &st.state {
                    LoginState::NotLoggedIn => ("none".to_string(), "not logged in".to_string()),
                    LoginState::Invalid(r) => ("invalid".to_string(), r.clone()),
                    LoginState::LoggedIn(a) => (a.summary.mode.clone(), login_detail(a)),
                };
                if verbosity == Verbosity::Verbose || !matches!(st.state, LoginState::LoggedIn(_)) {
                    detail = format!("{detail} [{}]", st.report.path());
                }
                if !st.shared_with.is_empty() {
                    detail.push_str(&format!("; SAME SESSION as {}", st.shared_with.join(", ")));
                }
                if let Some(by) = &st.stale {
                    detail.push_str(&format!(
                        "; STALE: this sign-in was refreshed on {by}, so this copy's refresh token is spent (signed out here)"
                    ));
                }
                if let Some(why) = &st.refused {
                    detail.push_str(&format!("; REFUSED by Codex there: {why}"));
                }
                if let Some(why) = st.login().and_then(|a| a.inconsistent) {
                    detail.push_str(&format!("; MIXED FILE: {why}"));
                }
                if verbosity == Verbosity::Verbose {
                    if let Some(c) = &st.report.codex {
                        detail.push_str(&format!("; judged by {}", super::push::codex_name(c)));
                    }
                }
                if let Some(account) = &st.report.keyring_account {
                    detail.push_str(&format!(
                        "; kept in the OS keyring ({}, {account})",
                        crate::auth::os_keyring::SERVICE
                    ));
                }
                for n in &st.report.notes {
                    detail.push_str(&format!("; {n}"));
                }
                let store = st.report.location.store;
                // (A login read from the keyring is the one Codex uses: nothing to warn of.)
                if store.may_ignore_file() && st.report.keyring_account.is_none() {
                    warnings.push(format!(
                        "note: {} uses the {store} credential store: Codex there {} auth.json",
                        p.spec.display(),
                        if store == CredentialStore::Keyring {
                            "ignores"
                        } else {
                            "may prefer a keyring entry over"
                        }
                    ));
                }
                vec![
                    p.spec.display(),
                    login,
                    store.to_string(),
                    st.report.codex_status.clone().unwrap_or_else(|| "-".into()),
                    detail,
                ]
            }
            Err(e) => vec![
                p.spec.display(),
                "FAILED".into(),
                "-".into(),
                "-".into(),
                e.line(),
            ],
        };
        rows.push(row);
    }
    let mut out = render_table(&rows);
    // One warning per group of places sharing a session.
    let mut seen: Vec<Vec<String>> = Vec::new();
    for p in places {
        if let Ok(st) = &p.result {
            if st.shared_with.is_empty() {
                continue;
            }
            let mut group = st.shared_with.clone();
            group.push(p.spec.display());
            group.sort();
            if !seen.contains(&group) {
                warnings.push(format!(
                    "warning: {} hold one ChatGPT session: when one refreshes the token, the others are signed out until `codex-auth sync` spreads the new one, and a `codex logout` or a new `codex login` at any of them revokes it for all (give the others access-only copies: codex-auth push --access-only; or a login each: codex-auth push --login)",
                    group.join(", ")
                ));
                seen.push(group);
            }
        }
    }
    for w in warnings {
        out.push_str(&w);
        out.push('\n');
    }
    scrub(out, logins(places))
}

#[derive(Serialize, Default)]
struct JsonPlace<'a> {
    target: String,
    kind: &'static str,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    home_from: Option<HomeSource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    credential_store: Option<CredentialStore>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    login: Option<&'a AuthSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    invalid_reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    keyring_account: Option<&'a str>,
    /// What the place holds, as `push --if-holds` takes it (sha256 of the login as
    /// stored there; it shows nothing of the login).
    #[serde(skip_serializing_if = "Option::is_none")]
    fingerprint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file_mode: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    codex_status: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    codex: Option<&'a crate::auth::verdict::CodexSeen>,
    #[serde(skip_serializing_if = "Option::is_none")]
    forced: Option<&'a crate::auth::store::Forced>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refused: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stale_since_refresh_on: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    inconsistent: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    notes: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shared_with: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a TargetError>,
}

#[derive(Serialize)]
struct JsonStatus<'a> {
    command: &'static str,
    places: Vec<JsonPlace<'a>>,
    #[serde(skip_serializing_if = "<[SessionView]>::is_empty")]
    sessions: &'a [SessionView],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    leases: Vec<JsonLease<'a>>,
    summary: JsonSummary,
}

/// A login lent by a `run` that still runs.
#[derive(Serialize)]
struct JsonLease<'a> {
    place: &'a str,
    lease: &'a str,
    account: &'a str,
    access_only: bool,
    pid: u32,
    since: i64,
}

fn json(places: &[PlaceResult], sessions: &[SessionView], leases: &[LeaseEntry]) -> String {
    let list: Vec<JsonPlace> = places
        .iter()
        .map(|p| {
            let kind = p.spec.kind().as_str();
            let target = p.spec.label();
            match &p.result {
                Ok(st) => {
                    let (state, login, invalid) = match &st.state {
                        LoginState::NotLoggedIn => ("not-logged-in", None, None),
                        LoginState::Invalid(r) => ("invalid", None, Some(r.as_str())),
                        LoginState::LoggedIn(a) => ("logged-in", Some(&a.summary), None),
                    };
                    let location = &st.report.location;
                    JsonPlace {
                        target,
                        kind,
                        ok: true,
                        path: Some(st.report.path()),
                        home_from: Some(location.home_from),
                        user: Some(&location.user),
                        credential_store: Some(location.store),
                        state: Some(state),
                        login,
                        invalid_reason: invalid,
                        keyring_account: st.report.keyring_account.as_deref(),
                        fingerprint: st
                            .report
                            .content
                            .as_ref()
                            .map(|c| Fingerprint::of(c.expose()).as_str().to_string()),
                        file_mode: st.report.file_mode.as_deref(),
                        codex_status: st.report.codex_status.as_deref(),
                        codex: st.report.codex.as_ref(),
                        forced: (st.report.forced != Default::default())
                            .then_some(&st.report.forced),
                        refused: st.refused.as_deref(),
                        stale_since_refresh_on: st.stale.as_deref(),
                        inconsistent: st.login().and_then(|a| a.inconsistent),
                        notes: st.report.notes.iter().map(String::as_str).collect(),
                        shared_with: (!st.shared_with.is_empty())
                            .then_some(st.shared_with.as_slice()),
                        error: None,
                    }
                }
                Err(e) => JsonPlace {
                    target,
                    kind,
                    error: Some(e),
                    ..Default::default()
                },
            }
        })
        .collect();
    let ok = list.iter().filter(|p| p.ok).count();
    let doc = JsonStatus {
        command: "status",
        sessions,
        leases: leases
            .iter()
            .map(|l| JsonLease {
                place: &l.place,
                lease: &l.lease,
                account: &l.account,
                access_only: l.access_only,
                pid: l.pid,
                since: l.at,
            })
            .collect(),
        summary: JsonSummary {
            total: list.len(),
            ok,
            failed: list.len() - ok,
        },
        places: list,
    };
    scrub(json_text(&doc), logins(places))
}
