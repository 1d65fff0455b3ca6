//! Addressing many targets at once: lists of destinations in a file (`--ssh @FILE`,
//! `--docker @FILE`, `-` for stdin), hosts from an Ansible inventory (`--inventory`,
//! read by Ansible's own `ansible-inventory --list`), and containers matching
//! `docker ps` filters (`--docker-filter`). The flags are checked with no I/O
//! ([`stdin_reader`], [`filters`]); the lists and inventories are read when a run
//! resolves its targets, before any target is connected; each problem is a usage error
//! (exit 2).

use std::io::Read;
use std::path::Path;

use serde_json::Value;

use crate::error::AppError;
use crate::ssh::Destination;

/// Largest list or inventory read.
const MAX_LIST: u64 = 16 << 20;

/// `FLAG @-` when one of `values` reads stdin (the command line allows one reader).
pub(crate) fn stdin_reader(values: &[String], flag: &str) -> Option<String> {
    values
        .iter()
        .any(|v| v == "@-")
        .then(|| format!("{flag} @-"))
}

/// The values that name targets themselves (not `@FILE` lists), for checking them
/// before anything is read.
pub(crate) fn named(values: &[String]) -> impl Iterator<Item = &str> {
    values
        .iter()
        .map(String::as_str)
        .filter(|v| !v.starts_with('@'))
}

/// `values` with every `@FILE` (`@-`: stdin) replaced by the lines of that file: blank
/// lines and `#` comments skipped, surrounding space trimmed.
pub(crate) fn expand(values: &[String], flag: &str) -> Result<Vec<String>, AppError> {
    let mut out = Vec::new();
    for v in values {
        let Some(path) = v.strip_prefix('@') else {
            out.push(v.clone());
            continue;
        };
        let text = if path == "-" {
            let mut text = String::new();
            std::io::stdin()
                .lock()
                .take(MAX_LIST)
                .read_to_string(&mut text)
                .map_err(|e| {
                    AppError::usage(format!("cannot read {flag} @- from stdin: {e}"), None)
                })?;
            text
        } else {
            read_list(Path::new(path)).map_err(|e| {
                AppError::usage(
                    format!("cannot read {flag} {v}: {e}"),
                    Some("one destination per line; # starts a comment"),
                )
            })?
        };
        let before = out.len();
        out.extend(
            text.lines()
                .map(|l| l.split('#').next().unwrap_or("").trim())
                .filter(|l| !l.is_empty())
                .map(str::to_string),
        );
        if out.len() == before {
            return Err(AppError::usage(
                format!("{flag} {v} lists nothing"),
                Some("one destination per line; # starts a comment"),
            ));
        }
    }
    Ok(out)
}

fn read_list(path: &Path) -> std::io::Result<String> {
    let f = std::fs::File::open(path)?;
    if f.metadata()?.is_dir() {
        return Err(std::io::Error::other("is a directory"));
    }
    let mut text = String::new();
    f.take(MAX_LIST).read_to_string(&mut text)?;
    Ok(text)
}

/// How long `ansible-inventory` may take: a dynamic inventory asks a cloud API, which
/// can hang; the run must not.
const INVENTORY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// Run `cmd` to its end and collect its output, or kill it after `limit` (`None`).
fn output_within(
    mut cmd: std::process::Command,
    limit: std::time::Duration,
) -> std::io::Result<Option<std::process::Output>> {
    use std::io::Read;
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = std::time::Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    Ok(Some(std::process::Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }))
}

/// The hosts of an Ansible inventory (optionally `--limit`ed), as Ansible itself reads
/// it: `ansible-inventory -i FILE --list`, with `ansible_host`, `ansible_user`,
/// `ansible_port` and `ansible_ssh_private_key_file` honoured. Each keeps its inventory
/// name for reports.
pub(crate) fn inventory(file: &Path, limit: Option<&str>) -> Result<Vec<Destination>, AppError> {
    if !file.is_file() {
        return Err(AppError::usage(
            format!(
                "inventory {} does not exist or is not a file",
                file.display()
            ),
            Some("give an Ansible inventory file (INI or YAML)"),
        ));
    }
    let mut cmd = std::process::Command::new("ansible-inventory");
    cmd.arg("-i").arg(file).arg("--list");
    if let Some(l) = limit {
        cmd.arg("--limit").arg(l);
    }
    // Ansible must not stop to ask, nor read this process's stdin.
    cmd.stdin(std::process::Stdio::null())
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_INVENTORY_UNPARSED_WARNING", "False");
    let out = match output_within(cmd, INVENTORY_TIMEOUT) {
        Ok(Some(o)) => o,
        Ok(None) => {
            return Err(AppError::usage(
                format!(
                    "ansible-inventory did not finish reading {} within {} s",
                    file.display(),
                    INVENTORY_TIMEOUT.as_secs()
                ),
                Some("a dynamic inventory plugin may be waiting on the network; check it with `ansible-inventory -i FILE --list`"),
            ))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(AppError::usage(
                "--inventory needs Ansible: ansible-inventory is not on PATH",
                Some("pip install ansible-core (or use --ssh @FILE with one host per line)"),
            ))
        }
        Err(e) => {
            return Err(AppError::usage(
                format!("cannot run ansible-inventory: {e}"),
                None,
            ))
        }
    };
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let line = err
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with("[WARNING]"))
            .unwrap_or("it failed");
        return Err(AppError::usage(
            format!("ansible-inventory cannot read {}: {line}", file.display()),
            Some("check it with `ansible-inventory -i FILE --list`"),
        ));
    }
    let doc: Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| AppError::usage(format!("ansible-inventory printed no JSON: {e}"), None))?;
    let hosts = hosts_of(&doc);
    if hosts.is_empty() {
        return Err(AppError::usage(
            match limit {
                Some(l) => format!("no host of {} matches --limit {l}", file.display()),
                None => format!("inventory {} has no hosts", file.display()),
            },
            Some("check it with `ansible-inventory -i FILE --graph`"),
        ));
    }
    let vars = doc.pointer("/_meta/hostvars");
    hosts
        .into_iter()
        .map(|name| destination(&name, vars.and_then(|v| v.get(&name))))
        .collect()
}

/// The host names in `ansible-inventory --list` output, in inventory order, each once:
/// the hosts of every group reachable from `all` (with a limit, only those left).
fn hosts_of(doc: &Value) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut stack = vec!["all".to_string()];
    let mut seen_groups = std::collections::HashSet::new();
    while let Some(group) = stack.pop() {
        if !seen_groups.insert(group.clone()) {
            continue;
        }
        let Some(g) = doc.get(&group) else { continue };
        for h in g
            .get("hosts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(h) = h.as_str() {
                if !out.iter().any(|x| x == h) {
                    out.push(h.to_string());
                }
            }
        }
        let children: Vec<String> = g
            .get("children")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| c.as_str().map(str::to_string))
            .collect();
        stack.extend(children.into_iter().rev());
    }
    out
}

fn destination(name: &str, vars: Option<&Value>) -> Result<Destination, AppError> {
    let var = |k: &str| -> Option<String> {
        match vars?.get(k)? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    let host = var("ansible_host").unwrap_or_else(|| name.to_string());
    let bad = |what: &str| {
        AppError::usage(
            format!("inventory host {name}: bad {what}"),
            Some("check its ansible_host, ansible_port and ansible_user"),
        )
    };
    let parsed = Destination::parse(&host).map_err(|_| bad("ansible_host"))?;
    let port = match var("ansible_port") {
        Some(p) => Some(
            p.parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| bad("ansible_port"))?,
        ),
        None => parsed.port,
    };
    // Checked as a user typed in `--ssh USER@HOST` is.
    let user = match var("ansible_user") {
        Some(u)
            if u.contains('@')
                || Destination::parse(&format!("{u}@{}", parsed.host))
                    .map_or(true, |d| d.user.as_deref() != Some(u.as_str())) =>
        {
            return Err(bad("ansible_user"))
        }
        Some(u) => Some(u),
        None => parsed.user,
    };
    Ok(Destination {
        user,
        host: parsed.host,
        port,
        name: (name != host || port.is_some()).then(|| name.to_string()),
        identity: var("ansible_ssh_private_key_file")
            .or_else(|| var("ansible_private_key_file"))
            .map(|p| crate::ssh::expand_tilde(&p)),
    })
}

/// `--docker-filter KEY=VALUE` flags as `docker ps --filter` takes them.
pub(crate) fn filters(values: &[String]) -> Result<Vec<(String, String)>, AppError> {
    values
        .iter()
        .map(|f| {
            let (k, v) = f.split_once('=').unwrap_or((f, ""));
            let known = ["label", "name", "status", "id", "ancestor", "network", "health", "volume", "publish", "expose", "is-task", "before", "since", "exited"];
            if k.is_empty() || !known.contains(&k) {
                return Err(AppError::usage(
                    format!("bad --docker-filter {f:?}"),
                    Some("KEY=VALUE as docker ps --filter takes it: label=com.docker.compose.project=web, name=api, status=running"),
                ));
            }
            Ok((k.to_string(), v.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inventory_json_hosts_and_vars() {
        let doc = serde_json::json!({
            "_meta": {"hostvars": {
                "web1": {"ansible_host": "10.0.0.5", "ansible_user": "deploy", "ansible_port": 2222, "ansible_ssh_private_key_file": "/k/web"},
                "db1": {}
            }},
            "all": {"children": ["ungrouped", "web", "db"]},
            "web": {"hosts": ["web1"]},
            "db": {"hosts": ["db1", "web1"]},
            "ungrouped": {}
        });
        assert_eq!(hosts_of(&doc), ["web1", "db1"]);
        let vars = doc.pointer("/_meta/hostvars");
        let web = destination("web1", vars.and_then(|v| v.get("web1"))).unwrap();
        assert_eq!(web.host, "10.0.0.5");
        assert_eq!(web.user.as_deref(), Some("deploy"));
        assert_eq!(web.port, Some(2222));
        assert_eq!(web.name.as_deref(), Some("web1"));
        assert_eq!(web.identity.as_deref(), Some(Path::new("/k/web")));
        let db = destination("db1", vars.and_then(|v| v.get("db1"))).unwrap();
        assert_eq!((db.host.as_str(), db.name.as_deref()), ("db1", None));
        let message = |r: Result<Destination, AppError>| match r {
            Ok(d) => panic!("accepted {d}"),
            Err(e) => e.message,
        };
        assert_eq!(
            message(destination(
                "x",
                Some(&serde_json::json!({"ansible_port": "0"}))
            )),
            "inventory host x: bad ansible_port"
        );
        let bad_host = message(destination(
            "x",
            Some(&serde_json::json!({"ansible_host": "a b"})),
        ));
        assert!(bad_host.starts_with("inventory host x: "), "{bad_host}");
        // ansible_user is checked as a --ssh user: no options, no shell, no '@'.
        for user in ["-oProxyCommand=sh", "a b", "a@b", "a;b", "$(id)", "a'b"] {
            assert_eq!(
                message(destination(
                    "x",
                    Some(&serde_json::json!({"ansible_user": user}))
                )),
                "inventory host x: bad ansible_user",
                "{user:?}"
            );
        }
    }

    #[test]
    fn a_command_that_does_not_end_is_killed_at_its_limit() {
        let mut cmd = std::process::Command::new("sleep");
        cmd.arg("30");
        let started = std::time::Instant::now();
        let out = output_within(cmd, std::time::Duration::from_millis(200)).unwrap();
        assert!(out.is_none());
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        let mut cmd = std::process::Command::new("sh");
        cmd.args(["-c", "echo out; echo err >&2"]);
        let out = output_within(cmd, std::time::Duration::from_secs(10))
            .unwrap()
            .unwrap();
        assert_eq!(
            (&out.stdout[..], &out.stderr[..]),
            (&b"out\n"[..], &b"err\n"[..])
        );
    }

    #[test]
    fn lists_skip_comments_and_blank_lines() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("hosts");
        std::fs::write(&f, "# fleet\nweb1\n\n  db1  # the database\n").unwrap();
        let got = expand(&["a".into(), format!("@{}", f.display())], "--ssh").unwrap();
        assert_eq!(got, ["a", "web1", "db1"]);
        std::fs::write(&f, "# nothing\n").unwrap();
        let empty = expand(&[format!("@{}", f.display())], "--ssh");
        assert!(
            matches!(&empty, Err(e) if e.message.ends_with("lists nothing")),
            "{:?}",
            empty.map_err(|e| e.message)
        );
        assert_eq!(
            filters(&["label=a=b".into(), "name=x".into()]).map_err(|e| e.message),
            Ok(vec![
                ("label".to_string(), "a=b".to_string()),
                ("name".to_string(), "x".to_string())
            ])
        );
        assert_eq!(
            filters(&["bogus=1".into()]).map_err(|e| e.message),
            Err("bad --docker-filter \"bogus=1\"".to_string())
        );
    }
}
