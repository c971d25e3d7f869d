//! The log writer. A line is appended to a shared buffer by the thread that
//! logs it; one background thread writes the buffer out every [`INTERVAL`],
//! or as soon as it holds [`EARLY`] bytes. So a request's log line costs its
//! formatting and a copy on the request's thread, and nothing on another:
//! tracing-appender's `non_blocking`, used before, woke its writer thread for
//! nearly every line under load (a futex wake, two context switches and a
//! `write` per request, several µs of the sidecar's CPU each).
//!
//! Should the sink block (stderr piped to a stuck reader), lines are dropped,
//! never waited for, once [`MAX_HELD`] bytes are waiting; the next write says
//! how many were lost.

use std::cell::RefCell;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

/// The longest a line waits before it is written.
pub const INTERVAL: Duration = Duration::from_millis(50);
/// Held bytes that wake the writer before the interval is up.
pub const EARLY: usize = 256 * 1024;
/// Held bytes past which new lines are dropped (about 128k request lines).
pub const MAX_HELD: usize = 32 * 1024 * 1024;

/// When the writer writes, and how much it holds at most.
#[derive(Debug, Clone, Copy)]
struct Limits {
    interval: Duration,
    early: usize,
    max_held: usize,
}

struct Shared {
    held: Mutex<Vec<u8>>,
    ready: Condvar,
    stop: AtomicBool,
    dropped: AtomicU64,
    limits: Limits,
}

/// The `MakeWriter` to give the tracing subscriber.
#[derive(Clone)]
pub struct Batched {
    shared: Arc<Shared>,
}

/// Writes what is still held and stops the writer thread when dropped: keep
/// it alive for as long as the process logs.
pub struct Guard {
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// A writer to `sink` on a background thread, and its guard.
pub fn batched<W: Write + Send + 'static>(sink: W) -> io::Result<(Batched, Guard)> {
    with_limits(sink, Limits { interval: INTERVAL, early: EARLY, max_held: MAX_HELD })
}

fn with_limits<W: Write + Send + 'static>(sink: W, limits: Limits) -> io::Result<(Batched, Guard)> {
    let shared = Arc::new(Shared {
        held: Mutex::new(Vec::with_capacity(64 * 1024)),
        ready: Condvar::new(),
        stop: AtomicBool::new(false),
        dropped: AtomicU64::new(0),
        limits,
    });
    let worker = shared.clone();
    let thread = std::thread::Builder::new().name("datagate-log".to_owned()).spawn(move || run(&worker, sink))?;
    Ok((Batched { shared: shared.clone() }, Guard { shared, thread: Some(thread) }))
}

/// The writer thread: waits out the interval (or an early wake), takes what
/// is held, writes it outside the lock.
fn run<W: Write>(shared: &Shared, mut sink: W) {
    let mut out: Vec<u8> = Vec::with_capacity(64 * 1024);
    loop {
        let stopping = {
            let Ok(mut held) = shared.held.lock() else { return };
            if held.len() < shared.limits.early && !shared.stop.load(Ordering::Acquire) {
                held = match shared.ready.wait_timeout(held, shared.limits.interval) {
                    Ok((held, _)) => held,
                    Err(_) => return,
                };
            }
            std::mem::swap(&mut *held, &mut out);
            shared.stop.load(Ordering::Acquire)
        };
        let dropped = shared.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            let _ = writeln!(out, "datagate: {dropped} log lines dropped: the log output could not keep up");
        }
        if !out.is_empty() {
            // Nowhere to report a failing stderr: the lines are lost, as they would be anyway.
            let _ = sink.write_all(&out);
            let _ = sink.flush();
            out.clear();
        }
        if stopping {
            return;
        }
        // A burst's buffer is not kept for ever.
        if out.capacity() > 4 * shared.limits.early {
            out = Vec::with_capacity(64 * 1024);
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        // Set under the lock: the writer either sees it before it waits or is
        // waiting when notified, never in between.
        if let Ok(_held) = self.shared.held.lock() {
            self.shared.stop.store(true, Ordering::Release);
        }
        self.shared.ready.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One event's writer (the subscriber writes each line in one call).
pub struct Line<'a> {
    shared: &'a Shared,
}

impl Write for Line<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let s = self.shared;
        let Ok(mut held) = s.held.lock() else { return Ok(buf.len()) };
        if held.len() + buf.len() > s.limits.max_held {
            s.dropped.fetch_add(1, Ordering::Relaxed);
            return Ok(buf.len());
        }
        let before = held.len();
        held.extend_from_slice(buf);
        let wake = before < s.limits.early && held.len() >= s.limits.early;
        drop(held);
        if wake {
            s.ready.notify_one();
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// How lines are formatted (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Human-readable lines (tracing-subscriber's default layout).
    Text,
    /// One JSON object per line.
    Json,
}

/// Where [`direct`] lines go, once the binary has set up its logs.
static DIRECT: OnceLock<(Batched, Format)> = OnceLock::new();

/// Lets the hot path's own formatters ([`direct`]) write into `w` beside the
/// tracing subscriber, in `format`. The first call wins.
pub fn set_direct(w: &Batched, format: Format) {
    let _ = DIRECT.set((w.clone(), format));
}

/// Writes one line that `fill` formats (newline included) straight into the
/// batch, skipping the tracing formatter. Answers false, writing nothing,
/// when [`set_direct`] was not called (a library user's own subscriber).
pub fn direct(fill: impl FnOnce(Format, &mut Vec<u8>)) -> bool {
    thread_local! {
        static BUF: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(512));
    }
    let Some((w, format)) = DIRECT.get() else { return false };
    BUF.with(|b| match b.try_borrow_mut() {
        Ok(mut b) => {
            b.clear();
            fill(*format, &mut b);
            let _ = Line { shared: &w.shared }.write(&b);
            if b.capacity() > 64 * 1024 {
                *b = Vec::with_capacity(512);
            }
        }
        // Re-entered from inside `fill`: format into a buffer of its own.
        Err(_) => {
            let mut b = Vec::new();
            fill(*format, &mut b);
            let _ = Line { shared: &w.shared }.write(&b);
        }
    });
    true
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Batched {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Line<'a> {
        Line { shared: &self.shared }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use tracing_subscriber::fmt::MakeWriter;

    /// A sink the test can read, optionally stuck until released.
    #[derive(Clone, Default)]
    struct Sink {
        out: Arc<Mutex<Vec<u8>>>,
        stuck: Arc<Mutex<()>>,
    }

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let _wait = self.stuck.lock().unwrap();
            self.out.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Sink {
        fn text(&self) -> String {
            String::from_utf8(self.out.lock().unwrap().clone()).unwrap()
        }
    }

    fn line(w: &Batched, text: &str) {
        w.make_writer().write_all(text.as_bytes()).unwrap();
    }

    #[test]
    fn every_line_is_written_in_order_by_the_time_the_guard_is_dropped() {
        let sink = Sink::default();
        let hour = Duration::from_secs(3600);
        let (w, guard) =
            with_limits(sink.clone(), Limits { interval: hour, early: 1 << 20, max_held: 1 << 20 }).unwrap();
        for i in 0..1000 {
            line(&w, &format!("line {i}\n"));
        }
        drop(guard);
        let want: String = (0..1000).map(|i| format!("line {i}\n")).collect();
        assert_eq!(sink.text(), want);
    }

    #[test]
    fn a_full_buffer_wakes_the_writer_before_the_interval() {
        let sink = Sink::default();
        let hour = Duration::from_secs(3600);
        let (w, _guard) = with_limits(sink.clone(), Limits { interval: hour, early: 100, max_held: 1 << 20 }).unwrap();
        line(&w, &"x".repeat(150));
        // The interval is an hour: only the early wake can write it.
        while sink.text().is_empty() {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(sink.text().len(), 150);
    }

    #[test]
    fn lines_past_the_limit_are_dropped_and_counted_not_waited_for() {
        let sink = Sink::default();
        let stuck = sink.stuck.lock().unwrap();
        let limits = Limits { interval: Duration::from_millis(1), early: 1 << 20, max_held: 30 };
        let (w, guard) = with_limits(sink.clone(), limits).unwrap();
        line(&w, "first\n");
        // The writer takes "first" and blocks on the stuck sink.
        while !w.shared.held.lock().unwrap().is_empty() {
            std::thread::sleep(Duration::from_millis(1));
        }
        for i in 0..10 {
            line(&w, &format!("held {i}\n"));
        }
        drop(stuck);
        drop(guard);
        let text = sink.text();
        assert!(text.starts_with("first\nheld 0\nheld 1\nheld 2\nheld 3\n"), "{text}");
        assert!(!text.contains("held 4"), "{text}");
        assert!(text.ends_with("datagate: 6 log lines dropped: the log output could not keep up\n"), "{text}");
    }
}
