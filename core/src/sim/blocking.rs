//! A sim on its own thread and runtime, for callers that have no tokio runtime (the C ABI,
//! Python, plain `#[test]`s).

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use super::server::Shared;
use super::{SimCamera, SimOptions, SimRecording, SimStats, rtsp_url};

/// A [`SimCamera`] running on a dedicated thread. Dropping it stops the sim and joins the
/// thread.
pub struct BlockingSimCamera {
    addr: SocketAddr,
    xaddr: Option<String>,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl BlockingSimCamera {
    pub(crate) fn start(opts: SimOptions) -> std::io::Result<BlockingSimCamera> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("camwire-sim".to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    match SimCamera::start(opts).await {
                        Ok(sim) => {
                            let _ = ready_tx.send(Ok((
                                sim.local_addr(),
                                sim.xaddr(),
                                sim.shared.clone(),
                            )));
                            // Runs until stop() or until the handle is dropped.
                            let _ = stop_rx.await;
                            sim.shutdown().await;
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                });
            })?;
        match ready_rx.recv() {
            Ok(Ok((addr, xaddr, shared))) => Ok(BlockingSimCamera {
                addr,
                xaddr,
                shared,
                stop: Some(stop_tx),
                thread: Some(thread),
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => {
                let _ = thread.join();
                Err(std::io::Error::other("sim thread ended before it started"))
            }
        }
    }

    /// `rtsp://IP:PORT/stream`, without credentials.
    pub fn rtsp_url(&self) -> String {
        rtsp_url(self.addr)
    }

    /// The TCP port RTSP listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The ONVIF device-service address (see [`SimCamera::xaddr`]).
    pub fn xaddr(&self) -> Option<String> {
        self.xaddr.clone()
    }

    /// Where the Profile G recording is (see [`SimCamera::recording`]).
    pub fn recording(&self) -> Option<SimRecording> {
        self.shared.recording.map(|p| p.public())
    }

    /// The RTSP replay URL (see [`SimCamera::replay_url`]).
    pub fn replay_url(&self) -> Option<String> {
        super::replay_url(self.addr, &self.shared)
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> SimStats {
        self.shared.counters.snapshot()
    }

    /// Stops the sim and waits for its thread.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for BlockingSimCamera {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

impl std::fmt::Debug for BlockingSimCamera {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingSimCamera")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}
