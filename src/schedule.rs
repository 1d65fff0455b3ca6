//! Running `codex-auth sync` on a schedule on this machine: a systemd user timer on
//! Linux (`~/.config/systemd/user/codex-auth-sync.{service,timer}`, enabled with
//! `systemctl --user`), a launchd agent on macOS
//! (`~/Library/LaunchAgents/com.github.codex-auth.sync.plist`), and elsewhere the
//! crontab line to add. What the units run is the command given here, by absolute
//! path; nothing secret is written into them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The name the timer and its service go by.
pub(crate) const UNIT: &str = "codex-auth-sync";
#[cfg(target_os = "macos")]
const LABEL: &str = "com.github.codex-auth.sync";

/// What installing or removing the schedule did.
pub(crate) struct Scheduled {
    /// Files written (or removed).
    pub files: Vec<PathBuf>,
    /// Lines to show: what was run and what it said, or what to do by hand.
    pub lines: Vec<String>,
    /// Whether the schedule is active (or gone) without anything left to do by hand.
    pub done: bool,
}

/// `sync ARGS` as a command line for systemd's ExecStart=: each word quoted, `%` and
/// `$` escaped (systemd expands both).
fn exec_start(program: &Path, args: &[String]) -> String {
    let quote = |w: &str| {
        let escaped = w
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('%', "%%")
            .replace('$', "$$");
        format!("\"{escaped}\"")
    };
    std::iter::once(quote(&program.display().to_string()))
        .chain(args.iter().map(|a| quote(a)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The service and timer units.
pub(crate) fn systemd_units(
    program: &Path,
    args: &[String],
    every: Duration,
    env: &[(String, String)],
) -> (String, String) {
    let mut service = format!(
        "[Unit]\nDescription=Keep the Codex ChatGPT sign-in fresh on every place that holds it (codex-auth sync)\n\n[Service]\nType=oneshot\nExecStart={}\n",
        exec_start(program, args)
    );
    for (k, v) in env {
        service.push_str(&format!(
            "Environment=\"{k}={}\"\n",
            v.replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('%', "%%")
                .replace('$', "$$")
        ));
    }
    let secs = every.as_secs().max(60);
    let timer = format!(
        "[Unit]\nDescription=Run codex-auth sync every {}\n\n[Timer]\nOnActiveSec=1min\nOnStartupSec=5min\nOnUnitActiveSec={secs}s\nRandomizedDelaySec={}s\n\n[Install]\nWantedBy=timers.target\n",
        crate::timestamp::human(secs as i64),
        secs / 10
    );
    (service, timer)
}

/// The crontab line for systems with neither systemd nor launchd.
pub(crate) fn crontab_line(program: &Path, args: &[String], every: Duration) -> String {
    let quote = |w: &str| format!("'{}'", w.replace('\'', "'\\''"));
    let command = std::iter::once(quote(&program.display().to_string()))
        .chain(args.iter().map(|a| quote(a)))
        .collect::<Vec<_>>()
        .join(" ")
        .replace('%', "\\%");
    let mins = (every.as_secs() / 60).max(1);
    let when = if mins >= 24 * 60 {
        format!("17 4 */{} * *", (mins / (24 * 60)).clamp(1, 31))
    } else if mins >= 60 {
        format!("17 */{} * * *", (mins / 60).clamp(1, 23))
    } else {
        format!("*/{} * * * *", mins.clamp(1, 59))
    };
    format!("{when} {command} >/dev/null 2>&1")
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let shown = format!("{cmd:?}").replace('"', "");
    match cmd.output() {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!(
            "{shown}: {}",
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .next()
                .unwrap_or("failed")
        )),
        Err(e) => Err(format!("{shown}: {e}")),
    }
}

/// Where systemd looks for this user's units.
fn systemd_dir() -> Option<PathBuf> {
    dirs::config_dir().map(|c| c.join("systemd").join("user"))
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, text)
}

/// Install the schedule: `program sync ARGS` every `every`.
pub(crate) fn install(
    program: &Path,
    args: &[String],
    every: Duration,
    env: &[(String, String)],
) -> Result<Scheduled, String> {
    if cfg!(target_os = "linux") {
        let dir = systemd_dir().ok_or("no configuration directory (set HOME)")?;
        let (service, timer) = systemd_units(program, args, every, env);
        let files = vec![
            dir.join(format!("{UNIT}.service")),
            dir.join(format!("{UNIT}.timer")),
        ];
        for (path, text) in files.iter().zip([service, timer]) {
            write_private(path, &text).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        let mut lines = Vec::new();
        let enabled =
            run(Command::new("systemctl").args(["--user", "daemon-reload"])).and_then(|()| {
                run(Command::new("systemctl").args([
                    "--user",
                    "enable",
                    "--now",
                    &format!("{UNIT}.timer"),
                ]))
            });
        let done = match enabled {
            Ok(()) => {
                lines.push(format!(
                    "enabled {UNIT}.timer (`systemctl --user list-timers {UNIT}.timer` shows the next run; `journalctl --user -u {UNIT}` what each said)"
                ));
                true
            }
            Err(e) => {
                lines.push(format!("could not enable the timer: {e}"));
                lines.push(format!(
                    "run `systemctl --user daemon-reload && systemctl --user enable --now {UNIT}.timer` in your login session (and `loginctl enable-linger` to run it while you are logged out)"
                ));
                false
            }
        };
        return Ok(Scheduled { files, lines, done });
    }
    #[cfg(target_os = "macos")]
    {
        let dir = dirs::home_dir()
            .ok_or("no home directory")?
            .join("Library/LaunchAgents");
        let path = dir.join(format!("{LABEL}.plist"));
        let mut words = vec![program.display().to_string()];
        words.extend(args.iter().cloned());
        let esc = |s: &str| {
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        };
        let argv: String = words
            .iter()
            .map(|w| format!("    <string>{}</string>\n", esc(w)))
            .collect();
        let envs: String = env
            .iter()
            .map(|(k, v)| format!("    <key>{}</key><string>{}</string>\n", esc(k), esc(v)))
            .collect();
        let plist = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n<plist version=\"1.0\">\n<dict>\n  <key>Label</key><string>{LABEL}</string>\n  <key>ProgramArguments</key>\n  <array>\n{argv}  </array>\n  <key>EnvironmentVariables</key>\n  <dict>\n{envs}  </dict>\n  <key>StartInterval</key><integer>{}</integer>\n  <key>RunAtLoad</key><true/>\n</dict>\n</plist>\n",
            every.as_secs().max(60)
        );
        write_private(&path, &plist).map_err(|e| format!("{}: {e}", path.display()))?;
        let loaded = run(Command::new("launchctl").args(["load", "-w"]).arg(&path));
        let (lines, done) = match loaded {
            Ok(()) => (vec![format!("loaded {LABEL}")], true),
            Err(e) => (
                vec![
                    format!("could not load the agent: {e}"),
                    format!("run `launchctl load -w {}`", path.display()),
                ],
                false,
            ),
        };
        return Ok(Scheduled {
            files: vec![path],
            lines,
            done,
        });
    }
    #[allow(unreachable_code)]
    Ok(Scheduled {
        files: Vec::new(),
        lines: vec![
            "no systemd or launchd here: add this line with `crontab -e`:".into(),
            crontab_line(program, args, every),
        ],
        done: false,
    })
}

/// Remove the schedule installed by [`install`].
pub(crate) fn uninstall() -> Result<Scheduled, String> {
    if cfg!(target_os = "linux") {
        let dir = systemd_dir().ok_or("no configuration directory (set HOME)")?;
        let files = [
            dir.join(format!("{UNIT}.timer")),
            dir.join(format!("{UNIT}.service")),
        ];
        let mut lines = Vec::new();
        let present = files.iter().any(|f| f.exists());
        if present {
            if let Err(e) = run(Command::new("systemctl").args([
                "--user",
                "disable",
                "--now",
                &format!("{UNIT}.timer"),
            ])) {
                lines.push(format!("could not disable the timer: {e}"));
            }
        }
        let mut removed = Vec::new();
        for f in files {
            match std::fs::remove_file(&f) {
                Ok(()) => removed.push(f),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("{}: {e}", f.display())),
            }
        }
        if present {
            let _ = run(Command::new("systemctl").args(["--user", "daemon-reload"]));
        } else {
            lines.push("no codex-auth timer is installed".into());
        }
        return Ok(Scheduled {
            done: true,
            files: removed,
            lines,
        });
    }
    #[cfg(target_os = "macos")]
    {
        let path = dirs::home_dir()
            .ok_or("no home directory")?
            .join("Library/LaunchAgents")
            .join(format!("{LABEL}.plist"));
        if !path.exists() {
            return Ok(Scheduled {
                files: Vec::new(),
                lines: vec!["no codex-auth agent is installed".into()],
                done: true,
            });
        }
        let _ = run(Command::new("launchctl").args(["unload", "-w"]).arg(&path));
        std::fs::remove_file(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        return Ok(Scheduled {
            files: vec![path],
            lines: Vec::new(),
            done: true,
        });
    }
    #[allow(unreachable_code)]
    Ok(Scheduled {
        files: Vec::new(),
        lines: vec!["remove the codex-auth line with `crontab -e`".into()],
        done: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_quote_every_word_and_escape_what_systemd_expands() {
        let (service, timer) = systemd_units(
            Path::new("/opt/my tools/codex-auth"),
            &["sync".into(), "-F".into(), "/home/u/100%/$cfg".into()],
            Duration::from_secs(86_400),
            &[("CODEX_HOME".into(), "/srv/codex".into())],
        );
        assert!(service.contains(
            "ExecStart=\"/opt/my tools/codex-auth\" \"sync\" \"-F\" \"/home/u/100%%/$$cfg\"\n"
        ));
        assert!(service.contains("Environment=\"CODEX_HOME=/srv/codex\"\n"));
        assert!(timer.contains("OnUnitActiveSec=86400s\n"));
        assert!(timer.contains("RandomizedDelaySec=8640s\n"));
        assert_eq!(
            crontab_line(
                Path::new("/usr/bin/codex-auth"),
                &["sync".into()],
                Duration::from_secs(86_400)
            ),
            "17 4 */1 * * '/usr/bin/codex-auth' 'sync' >/dev/null 2>&1"
        );
        assert!(crontab_line(Path::new("/x"), &[], Duration::from_secs(900))
            .starts_with("*/15 * * * *"));
    }
}
