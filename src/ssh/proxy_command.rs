//! `ProxyCommand`, as OpenSSH runs it: the command, its `%h %p %r %n %%` tokens
//! expanded, run through the user's shell (`$SHELL -c "exec COMMAND"`), and SSH spoken
//! over its stdin and stdout. What it prints on stderr is kept (the last lines) for the
//! report; when it exits, the connection ends, and the error says how it exited.

use std::process::Stdio;
use std::sync::{Arc, Mutex};

use tokio::io::AsyncBufReadExt;
use tokio::process::{Child, Command};

use super::SshError;

/// The values the tokens of a ProxyCommand stand for.
pub(super) struct Tokens<'a> {
    /// `%h`: the host name to connect to (after HostName).
    pub host: &'a str,
    /// `%p`
    pub port: u16,
    /// `%r`: the remote user name.
    pub user: &'a str,
    /// `%n`: the host as it was given on the command line.
    pub original: &'a str,
}

/// `command` with its tokens expanded; an unknown token is a config error, as in ssh.
pub(super) fn expand(command: &str, t: &Tokens<'_>) -> Result<String, SshError> {
    let mut out = String::with_capacity(command.len() + 16);
    let mut chars = command.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some('h') => out.push_str(t.host),
            Some('p') => out.push_str(&t.port.to_string()),
            Some('r') => out.push_str(t.user),
            Some('n') => out.push_str(t.original),
            Some(other) => {
                return Err(SshError::Config(format!(
                "ProxyCommand: unknown token %{other} (ProxyCommand takes %h, %p, %r, %n and %%)"
            )))
            }
            None => {
                return Err(SshError::Config(
                    "ProxyCommand ends in a lone %".to_string(),
                ))
            }
        }
    }
    Ok(out)
}

/// The last lines a ProxyCommand printed on stderr.
#[derive(Clone, Default)]
pub(super) struct Stderr(Arc<Mutex<Vec<String>>>);

/// Lines of its stderr kept for the report.
const KEPT_LINES: usize = 5;

impl Stderr {
    fn push(&self, line: String) {
        if let Ok(mut lines) = self.0.lock() {
            if lines.len() == KEPT_LINES {
                lines.remove(0);
            }
            lines.push(line.chars().take(300).collect());
        }
    }

    /// The last line it printed, if any.
    pub(super) fn last(&self) -> Option<String> {
        self.0.lock().ok().and_then(|l| l.last().cloned())
    }
}

/// A running ProxyCommand: its stdio is the connection; dropping it kills the command.
pub(super) struct Proxy {
    pub child: Child,
    pub stderr: Stderr,
    pub command: String,
}

impl Proxy {
    /// How the command ended, if it has: for the error that ends the connection.
    pub(super) fn ended(&mut self) -> Option<String> {
        let status = self.child.try_wait().ok()??;
        Some(match status.code() {
            Some(code) => format!("exited with status {code}"),
            None => "was killed by a signal".to_string(),
        })
    }

    /// The error for a connection through this command that failed: how it ended, and
    /// the last thing it said.
    pub(super) async fn failure(&mut self, addr: &str, fallback: SshError) -> SshError {
        // Give a command that is exiting a moment to be seen as exited.
        let mut ended = self.ended();
        for _ in 0..10 {
            if ended.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            ended = self.ended();
        }
        let said = self
            .stderr
            .last()
            .map(|l| format!(": {l}"))
            .unwrap_or_default();
        match ended {
            Some(how) => SshError::ProxyCommand {
                addr: addr.to_string(),
                detail: format!("ProxyCommand `{}` {how}{said}", self.command),
            },
            None if !said.is_empty() => match fallback {
                SshError::Disconnected { addr, detail } => SshError::Disconnected {
                    addr,
                    detail: format!("{detail} (ProxyCommand said{said})"),
                },
                other => other,
            },
            None => fallback,
        }
    }
}

/// Start `command` (expanded) through the user's shell, as ssh does.
pub(super) fn spawn(command: String) -> Result<(Proxy, impl super::Stream), SshError> {
    let shell = std::env::var("SHELL")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "/bin/sh".to_string());
    let mut child = Command::new(&shell)
        .arg("-c")
        .arg(format!("exec {command}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| SshError::Config(format!("cannot run ProxyCommand with {shell}: {e}")))?;
    let (Some(stdin), Some(stdout), Some(err)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(SshError::Config("ProxyCommand: no pipes".into()));
    };
    let stderr = Stderr::default();
    let keep = stderr.clone();
    tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(err).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            keep.push(line);
        }
    });
    Ok((
        Proxy {
            child,
            stderr,
            command,
        },
        tokio::io::join(stdout, stdin),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_expand_as_in_ssh() {
        let t = Tokens {
            host: "10.0.0.5",
            port: 2222,
            user: "deploy",
            original: "web1",
        };
        assert_eq!(
            expand("ssh -W %h:%p bastion # %r %n 100%%", &t).unwrap(),
            "ssh -W 10.0.0.5:2222 bastion # deploy web1 100%"
        );
        for bad in ["nc %h %x", "nc %h %"] {
            assert!(matches!(expand(bad, &t), Err(SshError::Config(_))), "{bad}");
        }
    }
}
