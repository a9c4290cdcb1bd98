//! The server's log output, kept off the invoke path.
//!
//! Every invocation logs a `platform.report` line at INFO. Writing it to stderr on the request's
//! own thread would put a system call (and, on a slow terminal or a full pipe, a stall) on the
//! warm path, so INFO and below are appended to a buffer that a thread of its own writes out
//! every [`FLUSH_EVERY`], or sooner once [`FLUSH_AT`] bytes wait. WARN and ERROR are written at
//! once, after whatever is buffered, so they are never lost in a crash or reordered against the
//! lines before them. A crash can lose at most the last [`FLUSH_EVERY`] of routine lines.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

const FLUSH_EVERY: Duration = Duration::from_millis(50);
const FLUSH_AT: usize = 64 * 1024;

pub struct Shared {
    pending: Mutex<Vec<u8>>,
    full: Condvar,
    sink: Mutex<Box<dyn Write + Send>>,
}

impl Shared {
    fn take(&self) -> Vec<u8> {
        self.pending
            .lock()
            .map(|mut p| std::mem::take(&mut *p))
            .unwrap_or_default()
    }

    fn write_out(&self, also: &[u8]) -> std::io::Result<()> {
        // The sink's lock first: lines taken from the buffer go out before any taken later.
        let mut sink = self
            .sink
            .lock()
            .map_err(|_| std::io::Error::other("log sink poisoned"))?;
        let before = self.take();
        sink.write_all(&before)?;
        sink.write_all(also)?;
        sink.flush()
    }
}

/// The `MakeWriter` for `tracing_subscriber::fmt`; clones share the buffer.
#[derive(Clone)]
pub struct Logs(Arc<Shared>);

impl Logs {
    /// Starts the thread that writes buffered lines to stderr.
    pub fn to_stderr() -> std::io::Result<Self> {
        Self::to(Box::new(std::io::stderr()))
    }

    fn to(sink: Box<dyn Write + Send>) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            pending: Mutex::default(),
            full: Condvar::new(),
            sink: Mutex::new(sink),
        });
        let flusher = shared.clone();
        std::thread::Builder::new()
            .name("bulkhead-logs".into())
            .spawn(move || {
                loop {
                    let Ok(pending) = flusher.pending.lock() else {
                        return;
                    };
                    if flusher.full.wait_timeout(pending, FLUSH_EVERY).is_err() {
                        return;
                    }
                    let _ = flusher.write_out(&[]);
                }
            })?;
        Ok(Logs(shared))
    }

    /// Writes out whatever is buffered; for a clean stop.
    pub fn flush(&self) {
        let _ = self.0.write_out(&[]);
    }
}

pub enum LogWriter<'a> {
    Buffered(&'a Shared),
    Direct(&'a Shared),
}

impl Write for LogWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match self {
            LogWriter::Buffered(shared) => {
                if let Ok(mut pending) = shared.pending.lock() {
                    pending.extend_from_slice(buf);
                    if pending.len() >= FLUSH_AT {
                        shared.full.notify_one();
                    }
                }
                Ok(())
            }
            LogWriter::Direct(shared) => shared.write_out(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Logs {
    type Writer = LogWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LogWriter::Direct(&self.0)
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Self::Writer {
        if *meta.level() <= Level::WARN {
            LogWriter::Direct(&self.0)
        } else {
            LogWriter::Buffered(&self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink the test can read back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn text(c: &Captured) -> String {
        String::from_utf8(c.0.lock().expect("lock").clone()).expect("utf-8")
    }

    #[test]
    fn routine_lines_wait_and_warnings_go_out_at_once_after_them() {
        let out = Captured::default();
        let logs = Logs::to(Box::new(out.clone())).expect("logs");
        let mut routine = LogWriter::Buffered(&logs.0);
        routine.write_all(b"report 1\n").expect("write");
        routine.write_all(b"report 2\n").expect("write");
        assert_eq!(
            text(&out),
            "",
            "routine lines are not written on the caller's thread"
        );
        LogWriter::Direct(&logs.0)
            .write_all(b"warning\n")
            .expect("write");
        assert_eq!(
            text(&out),
            "report 1\nreport 2\nwarning\n",
            "in order, nothing lost"
        );
        LogWriter::Buffered(&logs.0)
            .write_all(b"report 3\n")
            .expect("write");
        logs.flush();
        assert!(text(&out).ends_with("warning\nreport 3\n"));
    }

    #[test]
    fn the_log_thread_writes_routine_lines_out_on_its_own() {
        let out = Captured::default();
        let logs = Logs::to(Box::new(out.clone())).expect("logs");
        LogWriter::Buffered(&logs.0)
            .write_all(b"report\n")
            .expect("write");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while text(&out).is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(text(&out), "report\n");
    }
}
