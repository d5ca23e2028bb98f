//! Awaitables for the asyncio API (`AsyncServer`, `AsyncClient`).
//!
//! Why Rust futures completing asyncio futures rather than a thread pool:
//! every command is already a tokio future (a message to the hub's task
//! and a oneshot back, or a frame for the client's writer task), so an
//! awaited command holds no thread while it waits (a pool holds one per
//! command in flight and caps how many can wait at once), and cancelling
//! the asyncio future drops the Rust one.
//!
//! How: each event loop has a `Completions`, a small executor driven by
//! the loop itself. A command's future is polled at once, on the loop
//! thread, and again each time it is woken: its waker queues it and, when
//! the queue was empty, writes one byte to a socket the loop watches
//! (`loop.add_reader`); the loop then polls every queued future and sets
//! the results of those that are done. Tokio's threads (the hub's task,
//! the clients' readers and writers) never take the GIL, so they never
//! wait for the loop to let go of it; a burst of answers costs the loop
//! one wake-up; and an answer there at once costs no thread hop at all.
//! The futures only move data between channels: polling them is quick.
//!
//! Measured on the project's 2-core machine under load (other builds
//! running), `await hub.send(...)`: `pyo3-async-runtimes`' `future_into_py`
//! (a task on its runtime, then `call_soon_threadsafe` under the GIL per
//! future) took a median 100-130 µs, 100 µs each with 5000 in flight;
//! `run_in_executor` on the blocking `send` 50-60 µs, 40-85 µs each in
//! flight; this 21-29 µs, 13-21 µs each in flight.
//!
//! One rule keeps cancellation safe: a future never carries data that
//! would be lost if its result were dropped. Waits for something to read
//! (events, incoming frames) only say that it is there; the caller then
//! takes it synchronously.

use std::future::Future;
use std::io::{self, Read, Write};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll, Waker};

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::IntoPyObjectExt;
use tokio::runtime::Runtime;

/// Threads of the runtime running the async clients' readers and writers
/// and driving the timers and sockets of the futures the loops poll: the
/// work is small (a socket read or write), and the machine may have few
/// cores.
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

type BoxFuture = Pin<Box<dyn Future<Output = Outcome> + Send>>;

/// One awaited command: its Rust future, polled on the loop thread, and
/// the asyncio future it completes.
struct Task {
    /// `None` once finished or cancelled.
    future: Mutex<Option<BoxFuture>>,
    py_future: Py<PyAny>,
    wake: Arc<Wake>,
}

/// Tasks woken and waiting for the loop to poll them, and the socket that
/// tells the loop so.
struct Wake {
    ready: Mutex<Vec<Arc<Task>>>,
    tx: WakeEnd,
}

impl Wake {
    fn schedule(&self, task: Arc<Task>) {
        let was_empty = {
            let mut ready = lock(&self.ready);
            ready.push(task);
            ready.len() == 1
        };
        if was_empty {
            // WouldBlock: the socket is full of wake-ups already, so the
            // loop will poll. Any other error: the loop is gone.
            let _ = (&self.tx).write(&[1]);
        }
    }
}

impl std::task::Wake for Task {
    fn wake(self: Arc<Self>) {
        self.wake.clone().schedule(self);
    }
}

impl Task {
    /// Polls the future once (on the loop thread, holding the GIL; within
    /// the runtime, so its timers and sockets work); settles the asyncio
    /// future when it is done.
    fn poll(self: &Arc<Self>, py: Python<'_>) {
        let outcome = {
            let mut slot = lock(&self.future);
            let Some(future) = slot.as_mut() else {
                return; // finished, or cancelled, since it was woken
            };
            let waker = Waker::from(self.clone());
            let _runtime = runtime().map(Runtime::enter);
            match future.as_mut().poll(&mut Context::from_waker(&waker)) {
                Poll::Pending => return,
                Poll::Ready(outcome) => {
                    *slot = None;
                    outcome
                }
            }
        };
        let future = self.py_future.bind(py);
        if future
            .call_method0(pyo3::intern!(py, "done"))
            .and_then(|d| d.is_truthy())
            .unwrap_or(true)
        {
            return; // cancelled meanwhile: it keeps its cancellation
        }
        // Only an InvalidStateError can come back, for a future that is
        // done already: nothing to do then.
        let _ = match outcome(py) {
            Ok(value) => future.call_method1(pyo3::intern!(py, "set_result"), (value,)),
            Err(e) => future.call_method1(pyo3::intern!(py, "set_exception"), (e.value(py),)),
        };
    }
}

/// The tasks of one event loop, and the socket pair that wakes it (see the
/// module docs). Made by `tcphub._aio_loop`, one per loop, which registers
/// `drain` with `loop.add_reader(fileno(), ...)`.
#[pyclass(frozen, module = "tcphub._tcphub")]
pub struct Completions {
    wake: Arc<Wake>,
    rx: WakeEnd,
}

impl std::fmt::Debug for Completions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Completions")
            .field("ready", &lock(&self.wake.ready).len())
            .finish_non_exhaustive()
    }
}

#[pymethods]
impl Completions {
    #[new]
    fn new() -> PyResult<Self> {
        let (tx, rx) = wake_pair()?;
        tx.set_nonblocking(true)?;
        rx.set_nonblocking(true)?;
        Ok(Completions {
            wake: Arc::new(Wake {
                ready: Mutex::new(Vec::new()),
                tx,
            }),
            rx,
        })
    }

    /// The file descriptor the loop watches.
    fn fileno(&self) -> i64 {
        fileno(&self.rx)
    }

    /// Polls every task woken since the last call (on the loop thread,
    /// when `fileno()` is readable), settling those that are done.
    fn drain(&self, py: Python<'_>) {
        // The wake-ups first, then the queue: a task woken after the queue
        // is taken writes a new wake-up.
        let mut buf = [0u8; 256];
        while let Ok(n) = (&self.rx).read(&mut buf) {
            if n < buf.len() {
                break;
            }
        }
        let ready = std::mem::take(&mut *lock(&self.wake.ready));
        for task in ready {
            task.poll(py);
        }
    }
}

/// Drops a task's future when its asyncio future is cancelled.
#[pyclass(frozen)]
struct DropOnCancel(Arc<Task>);

impl std::fmt::Debug for DropOnCancel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DropOnCancel")
    }
}

#[pymethods]
impl DropOnCancel {
    fn __call__(&self, future: &Bound<'_, PyAny>) -> PyResult<()> {
        if future.call_method0("cancelled")?.is_truthy()? {
            // Dropped here, on the loop thread: its wakers find nothing.
            let dropped = lock(&self.0.future).take();
            drop(dropped);
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

/// An asyncio future completed by `fut`, for the event loop running now
/// (commands are called from coroutines). `fut` is polled at once, and
/// again on the loop thread each time it is woken: a command whose answer
/// is there at once completes without a thread hop, and one that waits
/// costs the loop one wake-up when its answer comes.
pub fn awaitable_with<'py, F>(py: Python<'py>, fut: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = Outcome> + Send + 'static,
{
    let (event_loop, completions) = loop_completions(py)?;
    let completions: PyRef<'_, Completions> = completions.extract()?;
    let py_future = event_loop.call_method0(pyo3::intern!(py, "create_future"))?;
    let task = Arc::new(Task {
        future: Mutex::new(Some(Box::pin(fut))),
        py_future: py_future.clone().unbind(),
        wake: completions.wake.clone(),
    });
    py_future.call_method1(
        pyo3::intern!(py, "add_done_callback"),
        (DropOnCancel(task.clone()),),
    )?;
    task.poll(py);
    Ok(py_future)
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
