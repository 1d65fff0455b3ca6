//! What `save`, `switch`, `forget` and `status --saved` show.

use serde::Serialize;

use super::{json_text, login_detail, render_table, scrub};
use crate::auth::local::describe_account;
use crate::auth::{AuthFile, AuthSummary};
use crate::ops::saved::{SaveResult, SavedView, SwitchResult};

#[derive(Serialize)]
struct JsonSaved<'a> {
    command: &'static str,
    name: &'a str,
    login: &'a AuthSummary,
    #[serde(skip_serializing_if = "Option::is_none")]
    written: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kept_as: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    already: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    revoked: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

fn print(text: String, doc: JsonSaved<'_>, login: &AuthFile, output: &super::Output) {
    super::print_stdout(&if output.json {
        scrub(json_text(&doc), [login])
    } else {
        scrub(text, [login])
    });
}

pub(crate) fn saved(r: &SaveResult, output: &super::Output) {
    let text = if r.written {
        format!("saved {}: {}\n", r.name, describe_account(&r.login))
    } else {
        format!(
            "kept {}: it holds a newer copy of this sign-in ({})\n",
            r.name,
            login_detail(&r.login)
        )
    };
    let doc = JsonSaved {
        command: "save",
        name: &r.name,
        login: &r.login.summary,
        written: Some(r.written),
        kept_as: None,
        already: None,
        revoked: None,
        error: None,
    };
    print(text, doc, &r.login, output);
}

pub(crate) fn switched(r: &SwitchResult, output: &super::Output) {
    let mut text = String::new();
    if let Some(n) = &r.kept_as {
        text.push_str(&format!("kept the refreshed login under {n}\n"));
    }
    text.push_str(&if r.already {
        format!(
            "{} is this machine's login already: {}\n",
            r.name,
            describe_account(&r.login)
        )
    } else {
        format!("switched to {}: {}\n", r.name, describe_account(&r.login))
    });
    let doc = JsonSaved {
        command: "switch",
        name: &r.name,
        login: &r.login.summary,
        written: None,
        kept_as: r.kept_as.as_deref(),
        already: Some(r.already),
        revoked: None,
        error: None,
    };
    print(text, doc, &r.login, output);
}

pub(crate) fn forgot(
    name: &str,
    login: &AuthFile,
    revoked: Option<&Result<String, String>>,
    output: &super::Output,
) {
    let mut text = format!("forgot {name}: {}\n", describe_account(login));
    match revoked {
        Some(Ok(at)) => text.push_str(&format!("revoked its ChatGPT session at {at}\n")),
        Some(Err(e)) => text.push_str(&format!("FAILED to revoke: {e}\n")),
        None => {}
    }
    let doc = JsonSaved {
        command: "forget",
        name,
        login: &login.summary,
        written: None,
        kept_as: None,
        already: None,
        revoked: revoked.and_then(|r| r.as_ref().ok()).map(String::as_str),
        error: revoked.and_then(|r| r.as_ref().err()).map(String::as_str),
    };
    print(text, doc, login, output);
}

#[derive(Serialize)]
struct JsonView<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    login: Option<&'a AuthSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    current: bool,
    places: &'a [String],
}

/// `status --saved`: one line per name.
pub(crate) fn list(views: &[SavedView], output: &super::Output) {
    let logins: Vec<&AuthFile> = views.iter().filter_map(|v| v.login.as_ref().ok()).collect();
    let text = if output.json {
        let list: Vec<JsonView> = views
            .iter()
            .map(|v| JsonView {
                name: &v.name,
                login: v.login.as_ref().ok().map(|l| &l.summary),
                error: v.login.as_ref().err().map(String::as_str),
                current: v.current,
                places: &v.places,
            })
            .collect();
        json_text(&serde_json::json!({"command": "status", "saved": list}))
    } else if views.is_empty() {
        "no saved logins (`codex-auth save NAME` keeps this machine's login under a name)\n"
            .to_string()
    } else {
        let mut rows = vec![vec![
            "NAME".to_string(),
            "LOGIN".into(),
            "DETAIL".into(),
            "PLACES".into(),
        ]];
        for v in views {
            let name = if v.current {
                format!("{} (current)", v.name)
            } else {
                v.name.clone()
            };
            rows.push(match &v.login {
                Ok(l) => vec![
                    name,
                    l.summary.mode.clone(),
                    login_detail(l),
                    if v.places.is_empty() {
                        "-".into()
                    } else {
                        v.places.join(", ")
                    },
                ],
                Err(e) => vec![name, "invalid".into(), e.clone(), "-".into()],
            });
        }
        render_table(&rows)
    };
    super::print_stdout(&scrub(text, logins));
}
