//! Local port forwarding, as `ssh -L 127.0.0.1:PORT:127.0.0.1:PORT`: every connection
//! accepted on a local listener is piped to a new direct-tcpip channel to the host's
//! 127.0.0.1:PORT. The first bytes of each connection are shown to a callback before
//! they are sent (a caller may want to know which request went through).

use std::sync::Arc;
use std::time::Duration;

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
    // The request line may come in pieces (a client writing "GET " apart from the rest):
    // it is read whole, within a bound, before it is reported and passed on.
    let mut first = Vec::with_capacity(1024);
    let mut buf = [0u8; 4096];
    while !first.contains(&b'\n') && first.len() < 8192 {
        let read = tokio::time::timeout(Duration::from_secs(2), local.read(&mut buf)).await;
        match read {
            Ok(Ok(n)) if n > 0 => first.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    if first.is_empty() {
        return;
    }
    on_connection(&first);
    let Ok(mut remote) = session.direct_tcpip("127.0.0.1", port).await else {
        return;
    };
    if remote.write_all(&first).await.is_err() {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut local, &mut remote).await;
}
