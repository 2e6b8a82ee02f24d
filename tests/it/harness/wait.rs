//! Waiting for what happens in the background — a job's effect, a process starting or
//! exiting, a log line, a socket falling behind: one polling loop, [`eventually`], for the
//! whole suite, so that every wait stretches alike on a slow machine ([`slowdown`]) and every
//! timeout fails alike: with the waiting test's line, what it waited for and what it saw last,
//! rather than falling through to a later, vaguer assertion.

use std::convert::Infallible;
use std::fmt::Debug;
use std::future::{Future, IntoFuture};
use std::ops::ControlFlow;
use std::panic::Location;
use std::pin::Pin;
use std::time::{Duration, Instant};

use super::Proc;

/// How often a wait looks again, unless it says otherwise ([`Eventually::every`]).
const POLL: Duration = Duration::from_millis(100);

/// How much slower than usual this machine is said to be (`ALPHERY_TEST_SLOWDOWN`, at least 1):
/// every wait's time limit is multiplied by it.
pub fn slowdown() -> f64 {
    std::env::var("ALPHERY_TEST_SLOWDOWN").ok().and_then(|v| v.parse::<f64>().ok()).unwrap_or(1.0).max(1.0)
}

/// What a probe of [`eventually`] answers: done, with what the wait gives back, or not yet,
/// with what it saw instead when that tells why a wait timed out.
pub trait Outcome {
    /// What the wait gives back once done.
    type Done;
    /// What a probe that is not done saw; printed (`Debug`) when the wait times out.
    type Seen: Debug;
    fn into_result(self) -> Result<Self::Done, Option<Self::Seen>>;
}

/// `true` once done; nothing to show.
impl Outcome for bool {
    type Done = ();
    type Seen = Infallible;
    fn into_result(self) -> Result<(), Option<Infallible>> {
        if self { Ok(()) } else { Err(None) }
    }
}

/// `Some(value)` once done; nothing to show.
impl<T> Outcome for Option<T> {
    type Done = T;
    type Seen = Infallible;
    fn into_result(self) -> Result<T, Option<Infallible>> {
        self.ok_or(None)
    }
}

/// `Ok(value)` once done; `Err(seen)` otherwise, printed if it is the last.
impl<T, S: Debug> Outcome for Result<T, S> {
    type Done = T;
    type Seen = S;
    fn into_result(self) -> Result<T, Option<S>> {
        self.map_err(Some)
    }
}

/// A text printed as it is when a wait times out (a log, whose `Debug` would escape every
/// line break).
pub struct Verbatim(pub String);

impl Debug for Verbatim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A wait made by [`eventually`]: `.await` it (an `async` probe), or run it with
/// [`Eventually::blocking`] (a plain one).
#[must_use = "a wait does nothing until it is awaited or run with `blocking`"]
pub struct Eventually<'a, P> {
    caller: &'static Location<'static>,
    what: String,
    within: Duration,
    every: Duration,
    procs: Vec<&'a Proc>,
    probe: P,
}

/// Calls `probe` every 100 ms until its [`Outcome`] is done, and gives back what it returned
/// then; once `within` (times [`slowdown`]) has passed, fails the test with the line that
/// called `eventually`, `what` it waited for (worded to follow "waiting for") and what the
/// probe saw last.
///
/// A plain function with `#[track_caller]`, returning the wait rather than being `async`:
/// `#[track_caller]` does not reach into an `async fn`'s body, so the line is taken here, when
/// the wait is made. A helper that waits for its caller is `#[track_caller]` and not `async`
/// either, and makes its wait before its own `async` part.
#[track_caller]
pub fn eventually<'a, P>(what: impl Into<String>, within: Duration, probe: P) -> Eventually<'a, P> {
    Eventually {
        caller: Location::caller(),
        what: what.into(),
        within: within.mul_f64(slowdown()),
        every: POLL,
        procs: Vec::new(),
        probe,
    }
}

impl<'a, P> Eventually<'a, P> {
    /// On a timeout, also prints what the processes `procs` printed.
    pub fn showing(mut self, procs: &[&'a Proc]) -> Self {
        self.procs = procs.to_vec();
        self
    }

    /// Looks every `interval` instead of every 100 ms: for a probe whose readings mean something
    /// only that far apart.
    pub fn every(mut self, interval: Duration) -> Self {
        self.every = interval;
        self
    }

    /// Runs the wait of a plain probe, blocking the thread: for code that cannot await (a
    /// `OnceLock`'s initialisation, a helper that is not `async`).
    pub fn blocking<O: Outcome>(mut self) -> O::Done
    where
        P: FnMut() -> O,
    {
        let deadline = Instant::now() + self.within;
        loop {
            let outcome = (self.probe)();
            if let ControlFlow::Break(done) = self.judge(outcome, deadline) {
                return done;
            }
            std::thread::sleep(self.every);
        }
    }

    /// Done, or look again; past `deadline`, fails the test.
    fn judge<O: Outcome>(&self, outcome: O, deadline: Instant) -> ControlFlow<O::Done> {
        match outcome.into_result() {
            Ok(done) => ControlFlow::Break(done),
            Err(seen) if Instant::now() >= deadline => self.time_out(seen),
            Err(_) => ControlFlow::Continue(()),
        }
    }

    fn time_out(&self, seen: Option<impl Debug>) -> ! {
        let seen = seen.map_or_else(String::new, |seen| format!("\nlast seen: {seen:?}"));
        let printed: String = self.procs.iter().map(|p| format!("\n{}", p.output())).collect();
        panic!("{}: timed out after {:?} waiting for {}{seen}{printed}", self.caller, self.within, self.what)
    }
}

impl<'a, P, O> IntoFuture for Eventually<'a, P>
where
    P: AsyncFnMut() -> O + 'a,
    O: Outcome + 'a,
{
    type Output = O::Done;
    // Boxed: the `async` block's type cannot be named here.
    type IntoFuture = Pin<Box<dyn Future<Output = O::Done> + 'a>>;

    fn into_future(mut self) -> Self::IntoFuture {
        Box::pin(async move {
            // The time starts when the wait is awaited, not when it was made.
            let deadline = Instant::now() + self.within;
            loop {
                let outcome = (self.probe)().await;
                if let ControlFlow::Break(done) = self.judge(outcome, deadline) {
                    return done;
                }
                tokio::time::sleep(self.every).await;
            }
        })
    }
}
