//! `Server(authentication=True)`: the host program decides whether a
//! credential proves the right to an alias.
//!
//! The native server asks its `Auth` on a task of its own per question;
//! the `Auth` built here puts each question in a queue for Python and
//! waits for the answer on a oneshot channel. Python fetches questions in
//! batches (`Server.next_auth_questions`), decides them on threads of its
//! choosing and answers each `AuthQuestion` once. Nothing here waits on
//! Python: a question nobody answers is cut off at `auth_timeout`, as the
//! hub itself cuts off the session waiting for it.

use std::sync::Mutex;
use std::time::Duration;

use pyo3::prelude::*;
use tcphub_core::{AuthDecision, AuthRequest};
use tcphub_native::Auth;
use tokio::sync::{mpsc, oneshot};

use crate::grant::read_decision;
use crate::repr::repr_str;

/// One question on its way to Python, with the channel for its answer.
#[derive(Debug)]
pub struct Question {
    request: AuthRequest,
    answer: oneshot::Sender<AuthDecision>,
}

/// Where the questions arrive for Python.
pub type Questions = mpsc::UnboundedReceiver<Question>;

/// How long a question outlives the hub's own deadline, so that the hub,
/// not this wait, is the one to time it out (and tell the client so).
const OUTLIVE_DEADLINE: Duration = Duration::from_secs(1);

/// An `Auth` that asks the host program, and the queue its questions
/// arrive in. `limit` is the hub's `auth_timeout`: past it the hub has
/// told the client `unauthorized` and ignores any answer, so the question
/// stops waiting soon after and holds nothing.
///
/// The queue is unbounded, but what waits in it is bounded by the hub: a
/// session has at most one question open, and questions whose wait ended
/// are dropped by Python as it fetches them.
pub fn host_auth(limit: Duration) -> (Auth, Questions) {
    let (tx, rx) = mpsc::unbounded_channel();
    let auth = Auth::from_fn("the host program", move |request: AuthRequest| {
        let tx = tx.clone();
        async move {
            let (answer, decided) = oneshot::channel();
            if tx.send(Question { request, answer }).is_err() {
                // Nobody will ever read the question: the server is going.
                return AuthDecision::Deny;
            }
            let wait = limit.saturating_add(OUTLIVE_DEADLINE);
            match tokio::time::timeout(wait, decided).await {
                Ok(Ok(decision)) => decision,
                // Dropped unanswered (Python gave up on it), or too late.
                Ok(Err(_)) | Err(_) => AuthDecision::Deny,
            }
        }
    });
    (auth, rx)
}

/// A session asks for an alias with a credential; answer it once with
/// `answer(True | False | Grant)`. Dropping it unanswered denies it.
#[pyclass(frozen, module = "tcphub._tcphub")]
#[derive(Debug)]
pub struct AuthQuestion {
    /// The session asking: its session id (peer address).
    #[pyo3(get)]
    session_id: String,
    /// The alias it asks for, already checked against the alias rules.
    #[pyo3(get)]
    alias: String,
    /// The credential, exactly as sent.
    #[pyo3(get)]
    token: String,
    /// Taken by the first answer.
    answer: Mutex<Option<oneshot::Sender<AuthDecision>>>,
}

impl From<Question> for AuthQuestion {
    fn from(q: Question) -> Self {
        AuthQuestion {
            session_id: q.request.session_id.to_string(),
            alias: q.request.alias.as_str().to_owned(),
            token: q.request.token.into(),
            answer: Mutex::new(Some(q.answer)),
        }
    }
}

impl AuthQuestion {
    /// Whether an answer is still awaited: not answered yet, and its
    /// deadline (the hub's `auth_timeout`, and a little) not passed.
    pub fn is_open(&self) -> bool {
        let answer = self.answer.lock().unwrap_or_else(|p| p.into_inner());
        answer.as_ref().is_some_and(|a| !a.is_closed())
    }
}

#[pymethods]
impl AuthQuestion {
    /// Whether an answer is still awaited (see `is_open`).
    #[getter]
    fn open(&self) -> bool {
        self.is_open()
    }

    /// Answers: `True`, `False` or a `Grant` (`TypeError` for anything
    /// else, and the question stays open). False when the answer came too
    /// late or a second time, and so was ignored.
    fn answer(&self, decision: &Bound<'_, PyAny>) -> PyResult<bool> {
        let decision = read_decision(decision)?;
        let sender = self.answer.lock().unwrap_or_else(|p| p.into_inner()).take();
        Ok(sender.is_some_and(|s| s.send(decision).is_ok()))
    }

    /// The token is a secret: never shown.
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "AuthQuestion(session_id={}, alias={})",
            repr_str(py, &self.session_id),
            repr_str(py, &self.alias)
        )
    }
}
