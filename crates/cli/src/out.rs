//! Printing that never panics, and knowing when nobody reads our output any more.
//!
//! `std`'s `println!` and `eprintln!` panic when the write fails: `containerops runs list | true`
//! would end with a panic (exit 101) once `true` has closed the pipe, and a panic in a run's
//! output path used to leave the run hanging. The crate root shadows those macros with the ones
//! here (textual scope beats the prelude), so every print of this crate goes through
//! [`stdout_line`] / [`stderr_line`]:
//!
//! - a failed write to stdout marks stdout as closed ([`closed`] fires) and is otherwise ignored;
//! - a failed write to stderr is ignored (there is nobody left to tell).
//!
//! [`watch_stdout`] also notices a reader that goes away while we print nothing (a run whose
//! step sleeps while `head` has already exited): a pipe's write end reports an error as soon as
//! its last reader is gone.
//!
//! What a closed stdout means is up to the caller: `run` cancels its run (as Ctrl-C does: the
//! steps are stopped and removed, the run is recorded as cancelled); every other command stops
//! at once ([`crate::exit::OUTPUT_CLOSED`]).

use std::fmt;
use std::io::Write;
use std::sync::LazyLock;

use co_backend::CancellationToken;

static CLOSED: LazyLock<CancellationToken> = LazyLock::new(CancellationToken::new);

/// Fires once stdout cannot be written any more (its reader went away).
pub fn closed() -> &'static CancellationToken {
    &CLOSED
}

/// Print one line to stdout; on failure mark stdout closed.
pub fn stdout_line(args: fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if out
        .write_fmt(args)
        .and_then(|()| out.write_all(b"\n"))
        .is_err()
    {
        CLOSED.cancel();
    }
}

/// Print one line to stderr, ignoring failures.
pub fn stderr_line(args: fmt::Arguments<'_>) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_fmt(args).and_then(|()| err.write_all(b"\n"));
}

/// A writer for stdout that marks it closed when a write fails (for code that takes a `Write`).
pub struct Stdout;

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        std::io::stdout()
            .lock()
            .write(buf)
            .inspect_err(|_| CLOSED.cancel())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stdout()
            .lock()
            .flush()
            .inspect_err(|_| CLOSED.cancel())
    }
}

/// Watch stdout for its reader going away (in a thread of its own, blocked in `poll(2)`). Only
/// pipes and sockets report that; on a terminal the thread waits for a hangup, on a file or
/// `/dev/null` forever, harmlessly.
pub fn watch_stdout() {
    use rustix::event::{poll, PollFd, PollFlags};
    let spawned = std::thread::Builder::new()
        .name("stdout-watch".into())
        .spawn(|| {
            let stdout = std::io::stdout();
            loop {
                // No events asked for: poll reports only errors and hangups.
                let mut fds = [PollFd::new(&stdout, PollFlags::empty())];
                match poll(&mut fds, None) {
                    Ok(_) if fds[0].revents().intersects(PollFlags::ERR | PollFlags::HUP) => {
                        CLOSED.cancel();
                        return;
                    }
                    Ok(_) | Err(rustix::io::Errno::INTR) => continue,
                    Err(_) => return,
                }
            }
        });
    if let Err(e) = spawned {
        tracing::debug!(error = %e, "cannot watch stdout");
    }
}
