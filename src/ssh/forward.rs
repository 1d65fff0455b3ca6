//! Local port forwarding, as `ssh -L 127.0.0.1:PORT:127.0.0.1:PORT`: every connection
//! accepted on a local listener is piped to a new direct-tcpip channel to the host's
//! 127.0.0.1:PORT. The first bytes of each connection are shown to a callback before
//! they are sent (a caller may want to know which request went through).

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::Session;

/// Called with the first bytes of each forwarded connection.
pub(crate) type OnConnection = Arc<dyn Fn(&[u8]) + Send + Sync>;

/// Accept on `listener` until the task is dropped, piping each connection to the
/// host's 127.0.0.1:`port`.
pub(crate) async fn serve_forward(
    listener: TcpListener,
    port: u16,
    session: Arc<Session>,
    on_connection: OnConnection,
) {
    loop {
        let Ok((local, _)) = listener.accept().await else {
            continue;
        };
        let (session, on_connection) = (session.clone(), on_connection.clone());
        tokio::spawn(async move {
            pipe(local, port, &session, on_connection.as_ref()).await;
        });
    }
}

async fn pipe(
    mut local: TcpStream,
    port: u16,
    session: &Session,
    on_connection: &(dyn Fn(&[u8]) + Send + Sync),
) {
    let _ = local.set_nodelay(true);
    let mut first = vec![0u8; 8192];
    let n = local.read(&mut first).await.unwrap_or(0);
    if n == 0 {
        return;
    }
    first.truncate(n);
    on_connection(&first);
    let Ok(mut remote) = session.direct_tcpip("127.0.0.1", port).await else {
        return;
    };
    if remote.write_all(&first).await.is_err() {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut local, &mut remote).await;
}
