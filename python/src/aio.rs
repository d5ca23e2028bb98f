//! Awaitables for the asyncio API (`AsyncServer`, `AsyncClient`).
//!
//! Why futures completed from tokio rather than a thread pool: every
//! command is already a tokio future (a message to the hub's task and a
//! oneshot back, or a socket write), so it runs as a task on a small tokio
//! runtime and completes the asyncio future when it ends. An awaited
//! command holds no thread while it waits (a pool holds one per command in
//! flight and caps how many can wait at once), and cancelling the asyncio
//! future aborts the task.
//!
//! How a result reaches the loop: the task leaves it, as a closure that
//! makes the Python value, in the loop's `Completions` queue and writes
//! one byte to a socket the loop watches (`loop.add_reader`) when the
//! queue was empty; the loop thread then sets every queued result in one
//! go. Tokio threads never take the GIL, so they never wait for the loop
//! to let go of it, and a burst of answers costs the loop one wake-up.
//! (`pyo3-async-runtimes`' `future_into_py`, tried first, completes each
//! future with its own `call_soon_threadsafe` under the GIL: `await
//! hub.send` took a median 120-130 µs, 100 µs each with 5000 in flight,
//! slower than a thread pool's 50 µs; this takes 40-55 µs, 20-40 µs each
//! in flight, on the same 2-core machine under load.)
//!
//! One rule keeps cancellation safe: a future never carries data that
//! would be lost if its result were dropped. Waits for something to read
//! (events, incoming frames) only say that it is there; the caller then
//! takes it synchronously.

use std::future::Future;
use std::io::{self, Read, Write};
use std::sync::{Mutex, MutexGuard, OnceLock};

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::IntoPyObjectExt;
use tokio::runtime::Runtime;
use tokio::task::AbortHandle;

/// Threads of the runtime running the awaited commands and the async
/// clients' readers: the work is small (a channel send, a socket read),
/// and the machine may have few cores.
const WORKER_THREADS: usize = 2;

/// What a finished task hands the loop: makes the result (or the
/// exception) once the loop thread holds the GIL.
pub type Outcome = Box<dyn FnOnce(Python<'_>) -> PyResult<Py<PyAny>> + Send>;

/// An error made a Python exception on the loop thread.
pub trait IntoPyErr: Send + 'static {
    fn into_py_err(self, py: Python<'_>) -> PyErr;
}

fn runtime() -> io::Result<&'static Runtime> {
    static RUNTIME: OnceLock<io::Result<Runtime>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(WORKER_THREADS)
                .thread_name("tcphub-async")
                .enable_all()
                .build()
        })
        .as_ref()
        .map_err(|e| io::Error::new(e.kind(), e.to_string()))
}

/// The two ends of the wake-up socket: a Unix socket pair, or where there
/// is none a loopback TCP connection (which selector loops watch too).
#[cfg(unix)]
type WakeEnd = std::os::unix::net::UnixStream;
#[cfg(not(unix))]
type WakeEnd = std::net::TcpStream;

#[cfg(unix)]
fn wake_pair() -> io::Result<(WakeEnd, WakeEnd)> {
    WakeEnd::pair()
}

#[cfg(not(unix))]
fn wake_pair() -> io::Result<(WakeEnd, WakeEnd)> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    let tx = WakeEnd::connect(listener.local_addr()?)?;
    let (rx, _) = listener.accept()?;
    Ok((tx, rx))
}

#[cfg(unix)]
fn fileno(end: &WakeEnd) -> i64 {
    use std::os::unix::io::AsRawFd;
    i64::from(end.as_raw_fd())
}

#[cfg(windows)]
fn fileno(end: &WakeEnd) -> i64 {
    use std::os::windows::io::AsRawSocket;
    // Socket handles are small integers in practice.
    end.as_raw_socket() as i64
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves the queue usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

struct Done {
    future: Py<PyAny>,
    outcome: Outcome,
}

/// The results finished tasks left for one event loop, and the socket pair
/// that wakes it (see the module docs). Made by `tcphub._aio_loop`, one per
/// loop, which registers `drain` with `loop.add_reader(fileno(), ...)`.
#[pyclass(frozen, module = "tcphub._tcphub")]
pub struct Completions {
    queue: Mutex<Vec<Done>>,
    wake_tx: WakeEnd,
    wake_rx: WakeEnd,
}

impl std::fmt::Debug for Completions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Completions")
            .field("queued", &lock(&self.queue).len())
            .finish_non_exhaustive()
    }
}

impl Completions {
    fn push(&self, done: Done) {
        let was_empty = {
            let mut queue = lock(&self.queue);
            queue.push(done);
            queue.len() == 1
        };
        if was_empty {
            // WouldBlock: the socket is full of wake-ups already, so the
            // loop will drain. Any other error: the loop is gone.
            let _ = (&self.wake_tx).write(&[1]);
        }
    }
}

#[pymethods]
impl Completions {
    #[new]
    fn new() -> PyResult<Self> {
        let (wake_tx, wake_rx) = wake_pair()?;
        wake_tx.set_nonblocking(true)?;
        wake_rx.set_nonblocking(true)?;
        Ok(Completions {
            queue: Mutex::new(Vec::new()),
            wake_tx,
            wake_rx,
        })
    }

    /// The file descriptor the loop watches.
    fn fileno(&self) -> i64 {
        fileno(&self.wake_rx)
    }

    /// Sets the result of every future whose task finished (on the loop
    /// thread, when `fileno()` is readable). A future cancelled meanwhile
    /// keeps its cancellation.
    fn drain(&self, py: Python<'_>) {
        // The wake-ups first, then the queue: a result queued after the
        // queue is taken writes a new wake-up.
        let mut buf = [0u8; 256];
        while let Ok(n) = (&self.wake_rx).read(&mut buf) {
            if n < buf.len() {
                break;
            }
        }
        let done = std::mem::take(&mut *lock(&self.queue));
        for Done { future, outcome } in done {
            let future = future.bind(py);
            if future
                .call_method0(pyo3::intern!(py, "done"))
                .and_then(|d| d.is_truthy())
                .unwrap_or(true)
            {
                continue;
            }
            // Only an InvalidStateError can come back, for a future that
            // is done already: nothing to do then.
            let _ = match outcome(py) {
                Ok(value) => future.call_method1(pyo3::intern!(py, "set_result"), (value,)),
                Err(e) => future.call_method1(pyo3::intern!(py, "set_exception"), (e.value(py),)),
            };
        }
    }
}

/// Aborts a task when its asyncio future is cancelled.
#[pyclass(frozen)]
#[derive(Debug)]
struct AbortOnCancel(AbortHandle);

#[pymethods]
impl AbortOnCancel {
    fn __call__(&self, future: &Bound<'_, PyAny>) -> PyResult<()> {
        if future.call_method0("cancelled")?.is_truthy()? {
            self.0.abort();
        }
        Ok(())
    }
}

/// The `Completions` of the running event loop (made on first use).
fn loop_completions(py: Python<'_>) -> PyResult<(Bound<'_, PyAny>, Bound<'_, PyAny>)> {
    static FIND: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let find = FIND.get_or_try_init(py, || {
        py.import("tcphub._aio_loop")?
            .getattr("completions")
            .map(Bound::unbind)
    })?;
    let found = find.bind(py).call0()?;
    let (event_loop, completions) = found.extract()?;
    Ok((event_loop, completions))
}

/// An asyncio future completed by `fut`, run as a task on the runtime,
/// for the event loop running now (commands are called from coroutines).
pub fn awaitable_with<'py, F>(py: Python<'py>, fut: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = Outcome> + Send + 'static,
{
    let (event_loop, completions) = loop_completions(py)?;
    let completions: Py<Completions> = completions.extract()?;
    let future = event_loop.call_method0(pyo3::intern!(py, "create_future"))?;
    let done = future.clone().unbind();
    let task = runtime()?.spawn(async move {
        let outcome = fut.await;
        completions.get().push(Done {
            future: done,
            outcome,
        });
    });
    future.call_method1(
        pyo3::intern!(py, "add_done_callback"),
        (AbortOnCancel(task.abort_handle()),),
    )?;
    Ok(future)
}

/// `awaitable_with` for a future resolving to a value or an error.
pub fn awaitable<'py, F, T, E>(py: Python<'py>, fut: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = Result<T, E>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
    E: IntoPyErr,
{
    awaitable_with(py, async move { outcome(fut.await) })
}

/// The `Outcome` of a value or an error.
pub fn outcome<T, E>(result: Result<T, E>) -> Outcome
where
    T: for<'a> IntoPyObject<'a> + Send + 'static,
    E: IntoPyErr,
{
    match result {
        Ok(value) => Box::new(move |py| value.into_py_any(py)),
        Err(e) => Box::new(move |py| Err(e.into_py_err(py))),
    }
}

impl IntoPyErr for std::convert::Infallible {
    fn into_py_err(self, _py: Python<'_>) -> PyErr {
        match self {}
    }
}
