//! A Docker engine on another host, `DOCKER_HOST=ssh://user@host`, reached the way the
//! docker CLI reaches it: `docker system dial-stdio` on the host, over one ssh
//! connection (our ssh layer: config, host keys, agent, ProxyJump). A private unix
//! socket here relays each API connection to a new dial-stdio channel, so the docker
//! layer talks to it as to any local engine. Unix only (the relay is a unix socket).

use std::sync::Arc;

use super::super::{ErrorClass, TargetError};
use crate::docker::{Endpoint, Engine};
use crate::prompt::Prompter;
use crate::ssh::{Destination, Session, SshOptions};

#[cfg(not(unix))]
pub(super) async fn connect(
    host: &str,
    _opts: &SshOptions,
    _prompter: Arc<dyn Prompter>,
) -> Result<Engine, TargetError> {
    Err(TargetError::new(
        ErrorClass::Config,
        format!("DOCKER_HOST {host}: ssh:// engines are supported on Unix only"),
        Some("push over --ssh to that host instead"),
    ))
}

#[cfg(unix)]
pub(super) async fn connect(
    host: &str,
    opts: &SshOptions,
    prompter: Arc<dyn Prompter>,
) -> Result<Engine, TargetError> {
    let dest = Destination::parse(host).map_err(|e| {
        TargetError::new(
            ErrorClass::Config,
            format!("bad DOCKER_HOST: {e}"),
            Some("use ssh://user@host[:port]"),
        )
    })?;
    let session = Arc::new(Session::connect(&dest, opts, prompter).await?);
    // The relay socket lives in a directory only we can enter (0700 whatever the umask:
    // the socket is the remote engine, as root there), removed with the engine.
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new()
        .prefix("codex-auth-docker")
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()
        .map_err(|e| {
            TargetError::new(
                ErrorClass::Io,
                format!("cannot make a relay socket: {e}"),
                None,
            )
        })?;
    let path = dir.path().join("docker.sock");
    let listener = tokio::net::UnixListener::bind(&path).map_err(|e| {
        TargetError::new(
            ErrorClass::Io,
            format!("cannot make a relay socket: {e}"),
            None,
        )
    })?;
    // And the socket itself 0600, for a directory someone opens up later.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(|e| {
        TargetError::new(
            ErrorClass::Io,
            format!("cannot make the relay socket private: {e}"),
            None,
        )
    })?;
    let relay_session = session.clone();
    tokio::spawn(async move {
        while let Ok((mut local, _)) = listener.accept().await {
            let session = relay_session.clone();
            tokio::spawn(async move {
                if let Ok(mut remote) = session.spawn_stream("docker system dial-stdio").await {
                    let _ = tokio::io::copy_bidirectional(&mut local, &mut remote).await;
                }
            });
        }
    });
    let engine = Engine::connect(&Endpoint::plain(format!("unix://{}", path.display())))
        .await
        .map_err(|e| {
            TargetError::new(
                ErrorClass::DockerUnreachable,
                format!("cannot reach the Docker engine on {host}: {e}"),
                Some("the host needs the docker CLI on the login user's PATH, with access to its engine"),
            )
        })?;
    Ok(engine.relayed(host, Arc::new((dir, session))))
}
