//! The accept loop and the state every connection shares (options, auth, counters).
//!
//! Connection tasks live in a `JoinSet` owned by the accept task, so stopping the accept task
//! (shutdown, or dropping the `SimCamera`) ends every session with it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::auth::DigestAuth;
use super::packetizer::MIN_MTU;
use super::recording::Plan;
use super::{SimOptions, SimStats, connection};

/// What every connection of one sim reads.
pub(crate) struct Shared {
    pub(crate) opts: SimOptions,
    pub(crate) auth: Option<DigestAuth>,
    pub(crate) counters: Counters,
    /// The recording the Profile G face serves (fixed when the sim starts).
    pub(crate) recording: Option<Plan>,
}

impl Shared {
    pub(crate) fn new(mut opts: SimOptions) -> Shared {
        opts.mtu = opts.mtu.max(MIN_MTU);
        let auth = opts.credentials.clone().map(|(u, p)| DigestAuth::new(u, p));
        let recording = opts
            .recording
            .as_ref()
            .map(|r| Plan::new(r, super::recording::now_nanos()));
        Shared {
            opts,
            auth,
            counters: Counters::default(),
            recording,
        }
    }
}

/// Lock-free counters behind [`SimStats`].
#[derive(Default)]
pub(crate) struct Counters {
    connections: AtomicU64,
    clients_served: AtomicU64,
    active_sessions: AtomicU64,
    rtp_packets: AtomicU64,
    rtcp_packets: AtomicU64,
    bytes: AtomicU64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> SimStats {
        SimStats {
            connections: self.connections.load(Relaxed),
            clients_served: self.clients_served.load(Relaxed),
            active_sessions: self.active_sessions.load(Relaxed),
            rtp_packets_sent: self.rtp_packets.load(Relaxed),
            rtcp_packets_sent: self.rtcp_packets.load(Relaxed),
            bytes_sent: self.bytes.load(Relaxed),
        }
    }

    pub(crate) fn add_rtp(&self, packets: u64, bytes: u64) {
        self.rtp_packets.fetch_add(packets, Relaxed);
        self.bytes.fetch_add(bytes, Relaxed);
    }

    pub(crate) fn add_rtcp(&self, bytes: u64) {
        self.rtcp_packets.fetch_add(1, Relaxed);
        self.bytes.fetch_add(bytes, Relaxed);
    }

    pub(crate) fn client_served(&self) {
        self.clients_served.fetch_add(1, Relaxed);
    }

    pub(crate) fn session_opened(&self) {
        self.active_sessions.fetch_add(1, Relaxed);
    }

    pub(crate) fn session_closed(&self) {
        self.active_sessions.fetch_sub(1, Relaxed);
    }
}

/// Accepts connections until `stop` says so (or its sender is dropped), then ends them all.
pub(crate) async fn run(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let mut tasks = JoinSet::new();
    loop {
        tokio::select! {
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    break;
                }
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    shared.counters.connections.fetch_add(1, Relaxed);
                    let _ = stream.set_nodelay(true);
                    tasks.spawn(connection::serve(stream, peer, shared.clone()));
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    log::warn!("sim: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                if let Err(e) = done
                    && e.is_panic()
                {
                    log::error!("sim: a connection task panicked: {e}");
                }
            }
        }
    }
    tasks.shutdown().await;
}
