//! `camwire_context`: one tokio runtime, the log callback, and every handle made from it (so
//! freeing the context closes them all).

use crate::error::*;
use crate::log_bridge;
use std::cell::Cell;
use std::ffi::{c_char, c_void};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};
use std::time::Duration;
use tokio::runtime::Runtime;
use tokio::sync::watch;

/// Log levels, as in the Rust `log` crate.
pub type camwire_log_level = u32;
/// Logging off (as `log_level`: no callback calls).
pub const CAMWIRE_LOG_OFF: camwire_log_level = 0;
/// Errors.
pub const CAMWIRE_LOG_ERROR: camwire_log_level = 1;
/// Warnings.
pub const CAMWIRE_LOG_WARN: camwire_log_level = 2;
/// Information (connections, files).
pub const CAMWIRE_LOG_INFO: camwire_log_level = 3;
/// Debugging detail.
pub const CAMWIRE_LOG_DEBUG: camwire_log_level = 4;
/// Everything.
pub const CAMWIRE_LOG_TRACE: camwire_log_level = 5;

/// A log line: `target` is the Rust module (e.g. `camwire::rtsp::session`), `message` the
/// text. Both are valid only during the call. Log lines never contain passwords. Called from
/// camwire's threads and from threads inside camwire calls, possibly concurrently: the
/// callback must be thread-safe, must not block for long and must not call blocking camwire
/// functions (they return CAMWIRE_E_WRONG_THREAD there).
pub type camwire_log_callback = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        level: camwire_log_level,
        target: *const c_char,
        message: *const c_char,
    ),
>;

/// Options for `camwire_context_new2`. Fill with `camwire_context_options_init` first.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct camwire_context_options {
    /// `sizeof(camwire_context_options)` as the caller compiled it (set by
    /// `camwire_context_options_init`).
    pub struct_size: usize,
    /// Runtime worker threads; 0 = 2.
    pub worker_threads: u32,
    /// Log callback, or NULL for none.
    pub log_callback: camwire_log_callback,
    /// Passed first to `log_callback`.
    pub log_user_data: *mut c_void,
    /// Most verbose level forwarded (`CAMWIRE_LOG_*`).
    pub log_level: camwire_log_level,
}

crate::abi::growable!(
    camwire_context_options,
    log_level: camwire_log_level,
    camwire_context_options::default()
);

impl Default for camwire_context_options {
    fn default() -> Self {
        camwire_context_options {
            struct_size: std::mem::size_of::<camwire_context_options>(),
            worker_threads: 0,
            log_callback: None,
            log_user_data: std::ptr::null_mut(),
            log_level: CAMWIRE_LOG_INFO,
        }
    }
}

/// Something owned by a context that the context closes when it is freed.
pub(crate) trait Child: Send + Sync {
    /// Stops it (idempotent). Called from the thread freeing the context.
    fn close(&self);
}

pub(crate) struct ContextInner {
    pub id: u64,
    runtime: RwLock<Option<Runtime>>,
    /// Turns true when the context starts closing: in-flight blocking calls return
    /// CAMWIRE_E_CLOSED.
    closing: watch::Sender<bool>,
    closed: AtomicBool,
    children: Mutex<Vec<Weak<dyn Child>>>,
}

/// A camwire instance: a runtime and everything made from it.
pub struct camwire_context {
    pub(crate) inner: Arc<ContextInner>,
}

static NEXT_CONTEXT: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// Set on threads camwire runs user callbacks on (runtime workers, stream callback
    /// threads), where blocking camwire calls could deadlock.
    static CALLBACK_THREAD: Cell<bool> = const { Cell::new(false) };
    /// The context whose work this thread is doing (for routing log lines).
    static CURRENT_CONTEXT: Cell<u64> = const { Cell::new(0) };
}

pub(crate) fn mark_callback_thread(context: u64) {
    CALLBACK_THREAD.with(|c| c.set(true));
    CURRENT_CONTEXT.with(|c| c.set(context));
}

/// A caller's `user_data` with its finalizer, moved to the thread that calls the callback.
/// Dropping it calls `free_user_data` once (also when registration fails), as a callback.
pub(crate) struct UserData(
    pub(crate) *mut c_void,
    pub(crate) crate::stream::camwire_free_user_data,
);

// SAFETY: the C contract: user_data may be used from camwire's callback thread.
unsafe impl Send for UserData {}

impl Drop for UserData {
    fn drop(&mut self) {
        if let Some(f) = self.1 {
            // SAFETY: the caller's finalizer for its own pointer, called once.
            as_callback_thread(|| unsafe { f(self.0) });
        }
    }
}

/// Runs `f` (a user callback) with the thread marked as a callback thread.
pub(crate) fn as_callback_thread<T>(f: impl FnOnce() -> T) -> T {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            CALLBACK_THREAD.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(CALLBACK_THREAD.with(|c| c.replace(true)));
    f()
}

pub(crate) fn current_context() -> u64 {
    CURRENT_CONTEXT.with(|c| c.get())
}

/// Error when the calling thread is one where blocking would deadlock.
pub(crate) fn check_thread() -> Result<()> {
    let in_callback = CALLBACK_THREAD.with(|c| c.get());
    if in_callback || tokio::runtime::Handle::try_current().is_ok() {
        return Err(Error::new(
            CAMWIRE_E_WRONG_THREAD,
            "blocking camwire call from a camwire callback or runtime thread",
        ));
    }
    Ok(())
}

struct ContextScope(u64);
impl ContextScope {
    fn enter(id: u64) -> ContextScope {
        ContextScope(CURRENT_CONTEXT.with(|c| c.replace(id)))
    }
}
impl Drop for ContextScope {
    fn drop(&mut self) {
        CURRENT_CONTEXT.with(|c| c.set(self.0));
    }
}

pub(crate) fn timeout_of(ms: u32) -> Duration {
    Duration::from_millis(u64::from(ms))
}

impl ContextInner {
    /// Runs `fut` to completion on the runtime from a caller's thread, returning
    /// CAMWIRE_E_CLOSED if the context closes meanwhile. Refuses callback/runtime threads.
    pub fn block_on<T>(&self, fut: impl Future<Output = Result<T>>) -> Result<T> {
        check_thread()?;
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::closed("context"));
        }
        self.run(fut)
    }

    /// As `block_on` without the closed check (closing children uses it). Still cancelled
    /// by nothing: callers bound `fut` themselves.
    pub fn block_on_internal<T>(&self, fut: impl Future<Output = T>) -> Option<T> {
        let _scope = ContextScope::enter(self.id);
        let guard = self.runtime.read().unwrap_or_else(PoisonError::into_inner);
        let rt = guard.as_ref()?;
        Some(rt.block_on(fut))
    }

    fn run<T>(&self, fut: impl Future<Output = Result<T>>) -> Result<T> {
        let mut closing = self.closing.subscribe();
        self.block_on_internal(async move {
            tokio::select! {
                r = fut => r,
                _ = closing.wait_for(|c| *c) => Err(Error::closed("context")),
            }
        })
        .unwrap_or_else(|| Err(Error::closed("context")))
    }

    /// A receiver that turns true when the context starts closing.
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Runs `f` inside the runtime context (for drops that spawn, e.g. RTSP TEARDOWN). Once
    /// the runtime is gone, inside a throwaway one (whatever `f` spawns is dropped with it).
    pub fn enter<T>(&self, f: impl FnOnce() -> T) -> T {
        let guard = self.runtime.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(rt) = guard.as_ref() {
            let _e = rt.enter();
            return f();
        }
        drop(guard);
        match tokio::runtime::Builder::new_current_thread().build() {
            Ok(rt) => {
                let r = {
                    let _e = rt.enter();
                    f()
                };
                drop(rt);
                r
            }
            Err(_) => f(),
        }
    }

    pub fn register(&self, child: Weak<dyn Child>) {
        {
            let mut c = self.children.lock().unwrap_or_else(PoisonError::into_inner);
            c.retain(|w| w.strong_count() > 0);
            c.push(child.clone());
        }
        // Made while the context was closing: close it now, as the context would have.
        if self.is_closed()
            && let Some(c) = child.upgrade()
        {
            c.close();
        }
    }

    /// Closes every child, then stops the runtime. Idempotent.
    fn close(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        let _ = self.closing.send(true);
        let children: Vec<_> =
            std::mem::take(&mut *self.children.lock().unwrap_or_else(PoisonError::into_inner));
        for c in children.iter().filter_map(Weak::upgrade) {
            c.close();
        }
        let rt = self
            .runtime
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(rt) = rt {
            rt.shutdown_timeout(Duration::from_secs(5));
        }
        log_bridge::unregister(self.id);
    }
}

impl Drop for ContextInner {
    fn drop(&mut self) {
        // Every handle holding the context is gone; shut the runtime down if still up. This
        // can run on a camwire thread (the last handle freed inside a callback): then the
        // runtime is leaked to its own shutdown in the background rather than blocking.
        if let Some(rt) = self
            .runtime
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            rt.shutdown_background();
        }
        log_bridge::unregister(self.id);
    }
}

/// Fills `options` (`struct_size` bytes: pass `sizeof *options`) with the defaults: 2 worker
/// threads, no log callback, level INFO; sets `options->struct_size`.
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_INVALID_ARGUMENT (`struct_size` not a size of
/// this struct).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_context_options_init(
    options: *mut camwire_context_options,
    struct_size: usize,
) -> camwire_result {
    // SAFETY: NULL or `struct_size` writable bytes per the caller.
    guard(|| unsafe { crate::abi::init(options, struct_size) })
}

/// Creates a context: starts its runtime (threads named `camwire-rt`) and installs the log
/// callback. `options` may be NULL for the defaults. Free with `camwire_context_free`.
///
/// Errors: CAMWIRE_E_NULL_POINTER (`out`), CAMWIRE_E_INVALID_ARGUMENT (log level > 5,
/// worker_threads > 1024, bad `struct_size`), CAMWIRE_E_UNSUPPORTED (fields this library does
/// not know are set), CAMWIRE_E_RUNTIME.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_context_new2(
    options: *const camwire_context_options,
    out_context: *mut *mut camwire_context,
) -> camwire_result {
    guard(|| {
        let out_context = out(out_context, "out_context")?;
        // SAFETY: NULL or a valid options struct.
        let opts = unsafe { crate::abi::read(options) }?.unwrap_or_default();
        context_new(opts, out_context)
    })
}

/// `camwire_context_new2` from read options (also behind the 0.1 entry point).
pub(crate) fn context_new(
    opts: camwire_context_options,
    out_context: *mut *mut camwire_context,
) -> Result<()> {
    if opts.log_level > CAMWIRE_LOG_TRACE {
        return Err(Error::invalid(
            "log_level must be CAMWIRE_LOG_OFF..CAMWIRE_LOG_TRACE",
        ));
    }
    if opts.worker_threads > 1024 {
        return Err(Error::invalid("worker_threads must be at most 1024"));
    }
    let id = NEXT_CONTEXT.fetch_add(1, Ordering::Relaxed);
    let workers = if opts.worker_threads == 0 {
        2
    } else {
        opts.worker_threads as usize
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("camwire-rt")
        .enable_all()
        .on_thread_start(move || mark_callback_thread(id))
        .build()
        .map_err(|e| Error::new(CAMWIRE_E_RUNTIME, format!("starting the runtime: {e}")))?;
    if let Some(cb) = opts.log_callback
        && opts.log_level > CAMWIRE_LOG_OFF
    {
        log_bridge::register(id, cb, opts.log_user_data, opts.log_level);
    }
    let ctx = Box::new(camwire_context {
        inner: Arc::new(ContextInner {
            id,
            runtime: RwLock::new(Some(runtime)),
            closing: watch::channel(false).0,
            closed: AtomicBool::new(false),
            children: Mutex::new(Vec::new()),
        }),
    });
    // SAFETY: checked non-NULL.
    unsafe { out_context.write(Box::into_raw(ctx)) };
    Ok(())
}

/// Closes everything made from `context` (streams stop and their callbacks finish, devices
/// close, recorders write their open fragment and close their files), stops the runtime and
/// frees the context. Handles made from it stay valid to free (their calls return
/// CAMWIRE_E_CLOSED). NULL is a no-op returning CAMWIRE_OK.
///
/// Never blocks forever: called from a camwire callback or runtime thread (where waiting for
/// those threads would deadlock) it does nothing and returns CAMWIRE_E_WRONG_THREAD; call it
/// again from one of your own threads.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_context_free(context: *mut camwire_context) -> camwire_result {
    guard(|| {
        if context.is_null() {
            return Ok(());
        }
        check_thread()?;
        // SAFETY: a context made by camwire_context_new and not freed yet.
        let ctx = unsafe { Box::from_raw(context) };
        ctx.inner.close();
        Ok(())
    })
}
