//! Log lines written off the request path. The server logs one line per operation; written
//! straight to standard output, each line was a `write` system call on the thread answering
//! the request, and a get by id answered 12 % fewer requests a second than with that line off
//! (yardstick Q4 under `wrk`). Lines are appended to a buffer instead (one short lock per
//! line) and a thread of their own writes what has gathered every few milliseconds, or at
//! once when much has, in one call. Lines keep their order and stay whole; at most
//! `FLUSH_EVERY` passes before a line is out, and the guard `init` returns writes the rest
//! when the process ends normally. The binary's own notices (`print_line`) take the same way,
//! so that they keep their place among the log's lines.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// How long a line may wait in the buffer.
const FLUSH_EVERY: Duration = Duration::from_millis(20);
/// A buffer this full is written at once.
const FLUSH_AT: usize = 64 * 1024;

#[derive(Default)]
struct State {
    lines: Vec<u8>,
    closed: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

/// The sink of the process, once `init` has made it.
static SINK: OnceLock<Arc<Shared>> = OnceLock::new();

/// What the log layer makes a writer of (`MakeWriter`).
#[derive(Clone)]
pub struct LogSink {
    shared: Arc<Shared>,
}

/// The writer of one line: appends it to the buffer.
pub struct LineWriter<'a> {
    shared: &'a Shared,
}

/// Writes what is left and stops the writing thread when dropped (the end of `main`).
pub struct FlushGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// The sink of standard output and the guard that ends it (once per process: later calls get
/// the same sink).
pub fn init() -> (LogSink, FlushGuard) {
    let shared = SINK.get_or_init(|| Arc::new(Shared::default())).clone();
    let writer = shared.clone();
    let thread = std::thread::Builder::new().name("alphery-log".into()).spawn(move || run(&writer)).ok();
    (LogSink { shared: shared.clone() }, FlushGuard { shared, thread })
}

/// The writing thread: waits for lines (or the close), takes them all, writes them in one call.
fn run(shared: &Shared) {
    let mut out = Vec::new();
    loop {
        let closed = {
            let Ok(mut state) = shared.state.lock() else { return };
            if state.lines.is_empty() && !state.closed {
                state = match shared.wake.wait_timeout(state, FLUSH_EVERY) {
                    Ok((state, _)) => state,
                    Err(_) => return,
                };
            }
            std::mem::swap(&mut out, &mut state.lines);
            state.closed
        };
        if !out.is_empty() {
            let mut stdout = std::io::stdout().lock();
            // Nowhere to report a failed log write: the line is dropped, as a full disk would.
            let _ = stdout.write_all(&out).and_then(|()| stdout.flush());
            out.clear();
        }
        if closed {
            return;
        }
    }
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        if let Ok(mut state) = self.shared.state.lock() {
            state.closed = true;
        }
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Writes `line` and a newline on standard output, in its place among the log's lines.
pub fn print_line(line: &str) {
    match SINK.get() {
        Some(shared) => {
            let mut w = LineWriter { shared };
            let _ = w.write_all(line.as_bytes()).and_then(|()| w.write_all(b"\n"));
        }
        None => println!("{line}"),
    }
}

impl Write for LineWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut state = self.shared.state.lock().map_err(|_| std::io::Error::other("log buffer poisoned"))?;
        if state.closed {
            // After the guard: nothing would write the buffer any more.
            drop(state);
            return std::io::stdout().write(buf);
        }
        state.lines.extend_from_slice(buf);
        if state.lines.len() >= FLUSH_AT {
            self.shared.wake.notify_one();
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogSink {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> LineWriter<'a> {
        LineWriter { shared: &self.shared }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_written_in_order_and_all_at_the_end() {
        let (sink, guard) = init();
        let mut w = sink.make_writer();
        for i in 0..1000 {
            w.write_all(format!("line {i}\n").as_bytes()).expect("buffered");
        }
        drop(guard);
        let state = sink.shared.state.lock().expect("lock");
        assert!(state.closed && state.lines.is_empty(), "everything written before the guard ended");
    }
}
