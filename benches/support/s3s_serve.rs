//! The accept loop the bench-only s3s servers share (`s3s_fs.rs`, `s3s_mem.rs`,
//! `s3s_listing.rs`): HTTP/1.1 connections served by an s3s service, TCP_NODELAY set on
//! each. A bench that includes one of those servers includes this module next to it:
//! `#[path = ".../benches/support/s3s_serve.rs"] mod s3s_serve;`.

use s3s::service::S3Service;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

/// Serves `service` on every connection `listener` accepts, each on its own task, until the
/// returned task is aborted: aborting it drops the set of connection tasks, which aborts them
/// all. A failed accept (too many open files, say) is retried after 10 ms.
pub fn spawn_http1(listener: TcpListener, service: S3Service) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut conns = JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((socket, _)) = accepted else {
                        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                        continue;
                    };
                    // Without it, Nagle's algorithm and delayed ACKs stall small responses
                    // by ~40 ms (what a production server avoids too).
                    let _ = socket.set_nodelay(true);
                    let service = service.clone();
                    conns.spawn(async move {
                        let io = hyper_util::rt::TokioIo::new(socket);
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(io, service)
                            .await;
                    });
                }
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
            }
        }
    })
}
