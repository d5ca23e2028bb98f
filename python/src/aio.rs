//! Awaitables for the asyncio API (`AsyncServer`, `AsyncClient`).
//!
//! Why futures completed from tokio rather than a thread pool: every
//! command is already a tokio future (a message to the hub's task and a
//! oneshot back, or a socket write), so `pyo3-async-runtimes` runs it as a
//! task on a small tokio runtime of its own and completes the asyncio
//! future with `loop.call_soon_threadsafe` when it ends. An awaited command
//! holds no thread while it waits (a pool would hold one per command in
//! flight, and cap how many can wait at once), and cancelling the asyncio
//! future drops the tokio task.
//!
//! One rule keeps cancellation safe: a future never carries data that
//! would be lost if its result were dropped. Waits for something to read
//! (events, incoming frames) only say that it is there; the caller then
//! takes it synchronously.

use std::future::Future;

use pyo3::prelude::*;

/// Threads of the runtime running the awaited commands and the async
/// clients' readers: the work is small (a channel send, a socket read),
/// and the machine may have few cores.
const WORKER_THREADS: usize = 2;

/// Sets up the runtime; called once, when the module is imported, before
/// any awaitable is made.
pub fn init() {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder
        .worker_threads(WORKER_THREADS)
        .thread_name("tcphub-async")
        .enable_all();
    pyo3_async_runtimes::tokio::init(builder);
}

/// An asyncio awaitable for `fut`, run as a task on the runtime, on the
/// event loop running now (commands are called from coroutines).
pub fn awaitable<'py, F, T>(py: Python<'py>, fut: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = PyResult<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    pyo3_async_runtimes::tokio::future_into_py(py, fut)
}
