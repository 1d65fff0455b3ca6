//! The Docker transport on bollard: connect as the docker CLI would (`DOCKER_HOST`, the
//! current context, the default socket; TLS as the CLI speaks it: [`endpoint`]), find a container, exec with stdin, and read and
//! write files through the archive API (which works without a shell, and on stopped
//! containers). Never prints.

pub(crate) mod endpoint;
pub(crate) mod passwd;

pub(crate) use endpoint::Endpoint;

use std::path::Path;
use std::sync::Arc;

use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::query_parameters::{
    DownloadFromContainerOptions, ListContainersOptions, UploadToContainerOptions,
};
use bollard::Docker;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

#[derive(Debug, thiserror::Error)]
pub(crate) enum DockerError {
    #[error("cannot reach the Docker engine at {host}: {detail}")]
    Unreachable { host: String, detail: String },
    #[error("unsupported DOCKER_HOST {host}")]
    UnsupportedHost { host: String },
    /// TLS was asked for and its files cannot be used.
    #[error("{message}")]
    TlsMaterial {
        message: String,
        /// The docker context whose material it is (else the environment's).
        context: Option<String>,
    },
    /// TLS without checking the engine's certificate.
    #[error("{what}: the Docker engine's certificate would not be checked")]
    Unverified { what: String },
    /// Plain TCP to an engine on another machine, not allowed.
    #[error("DOCKER_HOST {host} is plain TCP to another machine: the login would cross the network unencrypted")]
    Plaintext { host: String },
    /// Plain HTTP reached an engine that speaks TLS (nothing more was sent).
    #[error("the Docker engine at {host} speaks TLS, and no TLS is set up for it")]
    TlsExpected { host: String },
    /// The TLS handshake failed (the engine's certificate, or ours, was not accepted).
    #[error("TLS with the Docker engine at {host} failed: {detail}")]
    Tls { host: String, detail: String },
    #[error("no such container: {name}")]
    NoSuchContainer { name: String, similar: Vec<String> },
    #[error("user {user:?} does not exist in container {container}")]
    NoSuchUser { user: String, container: String },
    #[error("Docker engine error ({status}): {message}")]
    Api { status: u16, message: String },
    #[error("Docker engine connection lost: {0}")]
    Transport(String),
}

impl From<bollard::errors::Error> for DockerError {
    fn from(e: bollard::errors::Error) -> Self {
        match e {
            bollard::errors::Error::DockerResponseServerError {
                status_code,
                message,
            } => DockerError::Api {
                status: status_code,
                message,
            },
            other => DockerError::Transport(other.to_string()),
        }
    }
}

/// A connection to one Docker-compatible engine (dockerd, or podman's API socket).
#[derive(Clone)]
pub(crate) struct Engine {
    docker: Docker,
    pub host: String,
    /// Whatever must live as long as the connection (a relay, its socket directory).
    _guard: Option<Arc<dyn std::any::Any + Send + Sync>>,
}

/// What `docker inspect` says about a container that matters here.
#[derive(Clone, Debug)]
pub(crate) struct Container {
    pub id: String,
    pub name: String,
    pub running: bool,
    /// The image's / run's configured user (`USER`, `--user`); empty means root.
    pub user: String,
    pub env: Vec<String>,
    /// Mount points backed by tmpfs (writes through the archive API land below them).
    pub tmpfs_mounts: Vec<String>,
    /// When it last started (the engine's timestamp): tells a restart apart.
    pub started_at: Option<String>,
    /// Where its commands start (`WORKDIR`, `--workdir`; `/` when unset).
    pub working_dir: String,
}

impl Container {
    pub(crate) fn env_var(&self, key: &str) -> Option<&str> {
        self.env.iter().find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k == key).then_some(v)
        })
    }

    /// The tmpfs mount that `path` lies on, if any.
    pub(crate) fn tmpfs_under(&self, path: &str) -> Option<&str> {
        self.tmpfs_mounts
            .iter()
            .filter(|m| Path::new(path).starts_with(m.as_str()))
            .max_by_key(|m| m.len())
            .map(String::as_str)
    }
}

/// Where a container is now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ContainerState {
    Running,
    /// Running again, started after it was first looked at.
    Restarted,
    Stopped,
    Gone,
}

/// A file read through the archive API.
#[derive(Debug)]
pub(crate) enum Entry {
    File {
        content: Vec<u8>,
        mode: u32,
        uid: u64,
    },
    Symlink,
    Dir,
    Other,
}

/// Who owns a path in a container, and its permission bits.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stat {
    pub uid: u64,
    pub mode: u32,
    pub dir: bool,
}

pub(crate) struct ExecOutput {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// For [`Engine::exit_code`]; asked only when needed (one more round trip).
    pub exec_id: String,
    /// All of stdin was handed to the engine.
    pub delivered: bool,
    /// The engine connection broke before the command finished (what it printed until
    /// then is above).
    pub lost: Option<DockerError>,
}

/// The most a command in a container may print; more is cut off.
const MAX_OUTPUT: usize = 4 << 20;

impl Engine {
    /// Connect to the engine at `endpoint` (`unix://`, or `tcp://` with or without TLS;
    /// see [`Endpoint::resolve`]). Nothing is sent yet.
    pub(crate) async fn connect(endpoint: &Endpoint) -> Result<Engine, DockerError> {
        let host = endpoint.host.clone();
        // API 1.41 (Docker 20.10, podman 4) is spoken by every current engine; asking
        // for it directly saves the version round trip. An older engine says "too new"
        // and gets a negotiated version instead (see `container`).
        let pinned = bollard::ClientVersion {
            major_version: 1,
            minor_version: 41,
        };
        let unreachable = |e: bollard::errors::Error| DockerError::Unreachable {
            host: host.clone(),
            detail: short(&e.to_string()),
        };
        let docker = if host.starts_with("unix://") {
            Docker::connect_with_unix(&host, 120, &pinned).map_err(unreachable)?
        } else if let (Some(authority), Some(tls)) = (endpoint::tcp_authority(&host), &endpoint.tls)
        {
            connect_tls(authority, tls.clone(), &pinned).map_err(unreachable)?
        } else if host.starts_with("tcp://") || host.starts_with("http://") {
            Docker::connect_with_http(&host, 120, &pinned).map_err(unreachable)?
        } else {
            return Err(DockerError::UnsupportedHost { host });
        };
        Ok(Engine {
            docker,
            host,
            _guard: None,
        })
    }

    /// The same engine, shown as `host`, keeping `guard` alive as long as it is used.
    pub(crate) fn relayed(
        mut self,
        host: &str,
        guard: Arc<dyn std::any::Any + Send + Sync>,
    ) -> Self {
        self.host = host.to_string();
        self._guard = Some(guard);
        self
    }

    pub(crate) async fn container(&mut self, name: &str) -> Result<Container, DockerError> {
        let mut first = self.docker.inspect_container(name, None).await;
        if let Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 400,
            message,
        }) = &first
        {
            if message.contains("too new") || message.contains("client version") {
                self.docker = self.docker.clone().negotiate_version().await.map_err(|e| {
                    DockerError::Unreachable {
                        host: self.host.clone(),
                        detail: short(&e.to_string()),
                    }
                })?;
                first = self.docker.inspect_container(name, None).await;
            }
        }
        let info = match first {
            Ok(i) => i,
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => {
                return Err(DockerError::NoSuchContainer {
                    name: name.to_string(),
                    similar: self.similar_names(name).await,
                })
            }
            Err(e) => return Err(self.unreachable_or(e)),
        };
        let state = info.state.as_ref();
        let running = state.and_then(|s| s.running).unwrap_or(false)
            && !state.and_then(|s| s.paused).unwrap_or(false);
        let config = info.config.as_ref();
        let host_config = info.host_config.as_ref();
        let mut tmpfs_mounts: Vec<String> = host_config
            .and_then(|h| h.tmpfs.as_ref())
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default();
        for m in info.mounts.iter().flatten() {
            if m.typ.as_deref() == Some("tmpfs") {
                if let Some(d) = &m.destination {
                    tmpfs_mounts.push(d.clone());
                }
            }
        }
        Ok(Container {
            id: info.id.clone().unwrap_or_else(|| name.to_string()),
            name: info
                .name
                .as_deref()
                .map(|n| n.trim_start_matches('/').to_string())
                .unwrap_or_else(|| name.to_string()),
            running,
            user: config.and_then(|c| c.user.clone()).unwrap_or_default(),
            env: config.and_then(|c| c.env.clone()).unwrap_or_default(),
            tmpfs_mounts,
            started_at: state.and_then(|s| s.started_at.clone()),
            working_dir: config
                .and_then(|c| c.working_dir.clone())
                .filter(|d| d.starts_with('/'))
                .unwrap_or_else(|| "/".into()),
        })
    }

    /// The names of every container matching `filters`, as `docker ps -a --filter`
    /// matches them (several values of one key: any; several keys: all).
    pub(crate) async fn matching(
        &self,
        filters: &[(String, String)],
    ) -> Result<Vec<String>, DockerError> {
        let mut map: std::collections::HashMap<String, Vec<String>> =
            std::collections::HashMap::new();
        for (k, v) in filters {
            map.entry(k.clone()).or_default().push(v.clone());
        }
        let opts = ListContainersOptions {
            all: true,
            filters: Some(map),
            ..Default::default()
        };
        let list = self
            .docker
            .list_containers(Some(opts))
            .await
            .map_err(|e| self.unreachable_or(e))?;
        let mut names: Vec<String> = list
            .iter()
            .filter_map(|c| c.names.as_ref()?.first().cloned())
            .map(|n| n.trim_start_matches('/').to_string())
            .collect();
        names.sort();
        Ok(names)
    }

    async fn similar_names(&self, wanted: &str) -> Vec<String> {
        let opts = ListContainersOptions {
            all: true,
            ..Default::default()
        };
        let Ok(list) = self.docker.list_containers(Some(opts)).await else {
            return vec![];
        };
        let wanted_l = wanted.to_ascii_lowercase();
        let mut names: Vec<String> = list
            .iter()
            .flat_map(|c| c.names.clone().unwrap_or_default())
            .map(|n| n.trim_start_matches('/').to_string())
            .filter(|n| {
                let l = n.to_ascii_lowercase();
                l.contains(&wanted_l) || wanted_l.contains(&l) || edit_distance(&l, &wanted_l) <= 2
            })
            .collect();
        names.sort();
        names.truncate(5);
        names
    }

    /// Run `cmd` in the container with `stdin`, as `user` (default: the container's).
    pub(crate) async fn exec(
        &self,
        container: &Container,
        cmd: Vec<String>,
        user: Option<&str>,
        stdin: &[u8],
    ) -> Result<ExecOutput, DockerError> {
        let created = self.create_exec(container, cmd, user, None).await?;
        let mut out = ExecOutput {
            stdout: Vec::new(),
            stderr: Vec::new(),
            exec_id: created.id.clone(),
            delivered: false,
            lost: None,
        };
        match self.docker.start_exec(&created.id, None).await? {
            StartExecResults::Attached {
                mut output,
                mut input,
            } => {
                // Feed stdin while reading output, so a large payload cannot deadlock.
                let writer = async {
                    input.write_all(stdin).await.is_ok() && input.shutdown().await.is_ok()
                };
                let reader = async {
                    while let Some(item) = output.next().await {
                        match item {
                            Ok(bollard::container::LogOutput::StdOut { message })
                            | Ok(bollard::container::LogOutput::Console { message }) => {
                                out.stdout.extend_from_slice(&message)
                            }
                            Ok(bollard::container::LogOutput::StdErr { message }) => {
                                out.stderr.extend_from_slice(&message)
                            }
                            Ok(_) => {}
                            Err(e) => {
                                return Some(DockerError::Transport(format!(
                                    "the connection was lost during the command: {}",
                                    short(&e.to_string())
                                )))
                            }
                        }
                        if out.stdout.len() + out.stderr.len() > MAX_OUTPUT {
                            return Some(DockerError::Transport(format!(
                                "the command printed more than {} MiB",
                                MAX_OUTPUT >> 20
                            )));
                        }
                    }
                    None
                };
                let (delivered, lost) = tokio::join!(writer, reader);
                out.delivered = delivered;
                out.lost = lost;
            }
            StartExecResults::Detached => {}
        }
        Ok(out)
    }

    /// An exec of `cmd` in the container as `user`, its streams attached; on a terminal
    /// of type `term` when one is given.
    async fn create_exec(
        &self,
        container: &Container,
        cmd: Vec<String>,
        user: Option<&str>,
        term: Option<&str>,
    ) -> Result<bollard::exec::CreateExecResults, DockerError> {
        Ok(self
            .docker
            .create_exec(
                &container.id,
                CreateExecOptions {
                    cmd: Some(cmd),
                    user: user.map(str::to_string),
                    attach_stdin: Some(true),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    tty: Some(term.is_some()),
                    env: term.map(|term| vec![format!("TERM={term}")]),
                    ..Default::default()
                },
            )
            .await?)
    }

    /// Start `cmd` in the container as `user` and return it running, its stdin, output
    /// and exit as streams; with `tty` (its TERM and size) on a terminal, as
    /// `docker exec -it` runs it.
    pub(crate) async fn spawn(
        &self,
        container: &Container,
        cmd: Vec<String>,
        user: Option<&str>,
        tty: Option<(&str, u16, u16)>,
    ) -> Result<ExecProcess, DockerError> {
        let created = self
            .create_exec(container, cmd, user, tty.map(|(term, _, _)| term))
            .await?;
        let started = self
            .docker
            .start_exec(
                &created.id,
                Some(bollard::exec::StartExecOptions {
                    detach: false,
                    tty: tty.is_some(),
                    output_capacity: None,
                }),
            )
            .await?;
        let StartExecResults::Attached { output, input } = started else {
            return Err(DockerError::Transport("the exec did not attach".into()));
        };
        let mut process = ExecProcess {
            engine: self.clone(),
            id: created.id,
            output,
            input: Some(input),
            exited: false,
        };
        if let Some((_, cols, rows)) = tty {
            process.resize(cols, rows).await;
        }
        Ok(process)
    }

    /// Whether `container` still runs, stopped, or is gone.
    pub(crate) async fn state(&self, container: &Container) -> Result<ContainerState, DockerError> {
        match self.docker.inspect_container(&container.id, None).await {
            Ok(info) => {
                let state = info.state.as_ref();
                let running = state.and_then(|s| s.running).unwrap_or(false)
                    && !state.and_then(|s| s.paused).unwrap_or(false);
                let started_at = state.and_then(|s| s.started_at.as_ref());
                Ok(if !running {
                    ContainerState::Stopped
                } else if container.started_at.is_some()
                    && started_at != container.started_at.as_ref()
                {
                    ContainerState::Restarted
                } else {
                    ContainerState::Running
                })
            }
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(ContainerState::Gone),
            Err(e) => Err(self.unreachable_or(e)),
        }
    }

    /// The exit code of a finished exec.
    pub(crate) async fn exit_code(&self, exec_id: &str) -> Result<Option<i64>, DockerError> {
        Ok(self.docker.inspect_exec(exec_id).await?.exit_code)
    }

    /// Read one path through the archive API; `None` when it does not exist.
    pub(crate) async fn read(
        &self,
        container: &Container,
        path: &str,
    ) -> Result<Option<Entry>, DockerError> {
        let mut stream = self.docker.download_from_container(
            &container.id,
            Some(DownloadFromContainerOptions {
                path: path.to_string(),
            }),
        );
        let mut tar_bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(b) => tar_bytes.extend_from_slice(&b),
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                }) => return Ok(None),
                Err(e) => return Err(e.into()),
            }
            if tar_bytes.len() > 4 << 20 {
                return Err(DockerError::Transport(format!(
                    "{path} is larger than 4 MiB"
                )));
            }
        }
        let mut archive = tar::Archive::new(tar_bytes.as_slice());
        let entries = archive
            .entries()
            .map_err(|e| DockerError::Transport(e.to_string()))?;
        if let Some(entry) = entries.into_iter().next() {
            let mut entry = entry.map_err(|e| DockerError::Transport(e.to_string()))?;
            let header = entry.header().clone();
            return Ok(Some(match header.entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let mut content = Vec::new();
                    std::io::Read::read_to_end(&mut entry, &mut content)
                        .map_err(|e| DockerError::Transport(e.to_string()))?;
                    Entry::File {
                        content,
                        mode: header.mode().unwrap_or(0) & 0o7777,
                        uid: header.uid().unwrap_or(u64::MAX),
                    }
                }
                tar::EntryType::Symlink => Entry::Symlink,
                tar::EntryType::Directory => Entry::Dir,
                _ => Entry::Other,
            }));
        }
        Ok(None)
    }

    /// The owner and mode of `path` in the container (`None`: nothing there), from the
    /// first header of its archive: the rest of the stream (a directory's whole tree) is
    /// dropped unread.
    pub(crate) async fn stat(
        &self,
        container: &Container,
        path: &str,
    ) -> Result<Option<Stat>, DockerError> {
        let mut stream = self.docker.download_from_container(
            &container.id,
            Some(DownloadFromContainerOptions {
                path: path.to_string(),
            }),
        );
        let mut head = Vec::new();
        while head.len() < 512 {
            match stream.next().await {
                Some(Ok(b)) => head.extend_from_slice(&b),
                Some(Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404,
                    ..
                })) => return Ok(None),
                Some(Err(e)) => return Err(e.into()),
                None => break,
            }
        }
        drop(stream);
        let bad = || DockerError::Transport(format!("the archive of {path} has no header"));
        let block: &[u8; 512] = head
            .get(..512)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(bad)?;
        let header = tar::Header::from_byte_slice(block);
        Ok(Some(Stat {
            uid: header.uid().map_err(|_| bad())?,
            mode: header.mode().map_err(|_| bad())? & 0o7777,
            dir: header.entry_type() == tar::EntryType::Directory,
        }))
    }

    /// Extract a tar archive into `dir` (which must exist) in the container.
    pub(crate) async fn upload(
        &self,
        container: &Container,
        dir: &str,
        tar: Vec<u8>,
    ) -> Result<(), DockerError> {
        self.docker
            .upload_to_container(
                &container.id,
                Some(UploadToContainerOptions {
                    path: dir.to_string(),
                    ..Default::default()
                }),
                bollard::body_full(tar.into()),
            )
            .await
            .map_err(DockerError::from)
    }
}

/// A client for `https://authority` that speaks only TLS with `tls`, through bollard's
/// custom transport (one connection per request, as bollard's own clients).
fn connect_tls(
    authority: &str,
    tls: std::sync::Arc<rustls::ClientConfig>,
    version: &bollard::ClientVersion,
) -> Result<Docker, bollard::errors::Error> {
    let mut tcp = hyper_util::client::legacy::connect::HttpConnector::new();
    tcp.enforce_http(false);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config((*tls).clone())
        .https_only()
        .enable_http1()
        .wrap_connector(tcp);
    let mut builder =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new());
    builder.pool_max_idle_per_host(0);
    let client = Arc::new(builder.build(https));
    Docker::connect_with_custom_transport(
        move |request: bollard::BollardRequest| {
            let client = client.clone();
            async move {
                client
                    .request(request)
                    .await
                    .map_err(bollard::errors::Error::from)
            }
        },
        Some(format!("https://{authority}")),
        120,
        version,
    )
}

impl Engine {
    /// A transport failure on the first call means the engine is not there, or that
    /// TLS failed; a TLS engine answering plain HTTP says so.
    fn unreachable_or(&self, e: bollard::errors::Error) -> DockerError {
        let host = self.host.clone();
        match e {
            bollard::errors::Error::DockerResponseServerError {
                status_code: 400,
                ref message,
            } if message.contains("HTTP request to an HTTPS server") => {
                DockerError::TlsExpected { host }
            }
            bollard::errors::Error::DockerResponseServerError { .. } => e.into(),
            other => match tls_failure(&other) {
                Some(detail) => DockerError::Tls { host, detail },
                None => DockerError::Unreachable {
                    host,
                    detail: short(&chain(&other)),
                },
            },
        }
    }
}

/// The error and its causes on one line, each said once (hyper's own text, "client
/// error (Connect)", says little without what caused it).
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut next = cause(e);
    while let Some(c) = next {
        let said = c.to_string();
        if !said.is_empty() && !text.contains(&said) {
            text = format!("{text}: {said}");
        }
        next = cause(c);
    }
    text
}

/// What caused `e`: an `io::Error` wrapping another error yields that error (its
/// `source` skips it).
fn cause<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a (dyn std::error::Error + 'static)> {
    if let Some(io) = e.downcast_ref::<std::io::Error>() {
        if let Some(inner) = io.get_ref() {
            return Some(inner);
        }
    }
    e.source()
}

/// The TLS error among the causes of `e`, if the failure was one.
fn tls_failure(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut next = Some(e);
    while let Some(c) = next {
        if let Some(tls) = c.downcast_ref::<rustls::Error>() {
            return Some(match tls {
                rustls::Error::AlertReceived(alert) => format!(
                    "the engine ended the handshake ({alert:?}): it did not accept this \
                     client's certificate, or none was given (cert.pem with key.pem)"
                ),
                other => short(&other.to_string()),
            });
        }
        next = cause(c);
    }
    None
}

fn short(s: &str) -> String {
    s.lines().next().unwrap_or("").chars().take(300).collect()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = if ca == *cb { 0 } else { 1 };
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similar_name_distance() {
        assert_eq!(edit_distance("api-1", "api-2"), 1);
        assert_eq!(edit_distance("devcontainer", "devcontainer"), 0);
        assert!(edit_distance("web", "database") > 2);
    }

    #[test]
    fn tmpfs_lookup_takes_the_deepest_mount() {
        let c = Container {
            id: "x".into(),
            name: "x".into(),
            running: true,
            user: String::new(),
            env: vec!["CODEX_HOME=/srv/codex".into(), "A=b=c".into()],
            tmpfs_mounts: vec!["/home".into(), "/home/app".into()],
            started_at: None,
            working_dir: "/".into(),
        };
        assert_eq!(c.tmpfs_under("/home/app/.codex"), Some("/home/app"));
        assert_eq!(c.tmpfs_under("/homework"), None);
        assert_eq!(c.env_var("CODEX_HOME"), Some("/srv/codex"));
        assert_eq!(c.env_var("A"), Some("b=c"));
    }
}

/// A command running in a container (`Engine::spawn`).
pub(crate) struct ExecProcess {
    engine: Engine,
    id: String,
    output: std::pin::Pin<
        Box<
            dyn futures_util::Stream<
                    Item = Result<bollard::container::LogOutput, bollard::errors::Error>,
                > + Send,
        >,
    >,
    input: Option<std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>>,
    exited: bool,
}

/// What a command in a container did next.
#[derive(Debug)]
pub(crate) enum ExecEvent {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    /// It ended with this code (128 + N when signal N killed it).
    Exit(i64),
    /// The connection to the engine ended without an exit code.
    Closed,
}

impl ExecProcess {
    pub(crate) async fn next(&mut self) -> ExecEvent {
        if self.exited {
            return ExecEvent::Closed;
        }
        match self.output.next().await {
            Some(Ok(bollard::container::LogOutput::StdOut { message }))
            | Some(Ok(bollard::container::LogOutput::Console { message })) => {
                ExecEvent::Stdout(message.to_vec())
            }
            Some(Ok(bollard::container::LogOutput::StdErr { message })) => {
                ExecEvent::Stderr(message.to_vec())
            }
            Some(Ok(_)) => ExecEvent::Stdout(Vec::new()),
            Some(Err(_)) => {
                self.exited = true;
                ExecEvent::Closed
            }
            None => {
                self.exited = true;
                // The stream ends a moment before the engine records the exit.
                for _ in 0..50 {
                    match self.engine.docker.inspect_exec(&self.id).await {
                        Ok(info) if info.running == Some(true) => {
                            tokio::time::sleep(std::time::Duration::from_millis(20)).await
                        }
                        Ok(info) => {
                            return info
                                .exit_code
                                .map(ExecEvent::Exit)
                                .unwrap_or(ExecEvent::Closed)
                        }
                        Err(_) => return ExecEvent::Closed,
                    }
                }
                ExecEvent::Closed
            }
        }
    }

    /// Send `data` to its stdin.
    pub(crate) async fn write_stdin(&mut self, data: &[u8]) -> Result<(), DockerError> {
        match &mut self.input {
            Some(input) => {
                input.write_all(data).await.map_err(|e| {
                    DockerError::Transport(format!("the command's stdin closed: {e}"))
                })?;
                input
                    .flush()
                    .await
                    .map_err(|e| DockerError::Transport(format!("the command's stdin closed: {e}")))
            }
            None => Ok(()),
        }
    }

    /// End of input: the command sees EOF on stdin.
    pub(crate) async fn close_stdin(&mut self) {
        if let Some(mut input) = self.input.take() {
            let _ = input.shutdown().await;
        }
    }

    /// Its terminal was resized.
    pub(crate) async fn resize(&mut self, cols: u16, rows: u16) {
        let _ = self
            .engine
            .docker
            .resize_exec(
                &self.id,
                bollard::exec::ResizeExecOptions {
                    height: rows,
                    width: cols,
                },
            )
            .await;
    }
}
