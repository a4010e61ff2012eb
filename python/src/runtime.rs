//! The module-level tokio runtime and the one way Python threads wait on it.

use pyo3::prelude::*;
use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;
use tokio::runtime::Runtime;

/// How long a blocking call waits without the GIL before it looks for Ctrl-C.
const SLICE: Duration = Duration::from_millis(50);

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// The runtime every core call runs on (two worker threads: the machine is small and the
/// work is I/O).
pub(crate) fn runtime() -> &'static Runtime {
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("camwire-rt")
            .enable_all()
            .build()
            .expect("cannot start the camwire tokio runtime")
    })
}

/// Runs `fut` to completion with the GIL released. Every [`SLICE`] it takes the GIL back to
/// run Python signal handlers: a `KeyboardInterrupt` (or any exception a handler raises)
/// cancels `fut` and is returned. The future is dropped inside the runtime's context, so
/// core types whose `Drop` spawns cleanup (RTSP TEARDOWN) work.
pub(crate) fn wait<F>(py: Python<'_>, fut: F) -> PyResult<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    let rt = runtime();
    let mut fut = Box::pin(fut);
    loop {
        let slice =
            py.detach(|| rt.block_on(async { tokio::time::timeout(SLICE, fut.as_mut()).await }));
        match slice {
            Ok(v) => return Ok(v),
            Err(_elapsed) => {
                if let Err(e) = py.check_signals() {
                    let _guard = rt.enter();
                    drop(fut);
                    return Err(e);
                }
            }
        }
    }
}

/// Drops `value` inside the runtime's context (for core types that spawn on drop).
pub(crate) fn drop_in_runtime<T>(value: T) {
    let _guard = runtime().enter();
    drop(value);
}

/// Seconds from Python as a `Duration` (negative, NaN or infinite refused).
pub(crate) fn seconds(what: &str, secs: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(secs).map_err(|_| {
        crate::errors::invalid_input(format!("{what} must be a finite number of seconds >= 0"))
    })
}
