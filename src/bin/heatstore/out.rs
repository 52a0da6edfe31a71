//! Standard output that reports its errors: every line goes through
//! [`Out::line`], which never panics. A closed pipe (`heatstore ... | head`)
//! ends the command quietly with success ([`Failure::closed_pipe`]); any
//! other write error (a full disk) is a clear failure, as is a failed flush
//! at the end ([`Out::finish`]).

use std::fmt;
use std::io::{self, BufWriter, Stdout, Write};

use crate::common::Failure;

/// Buffered standard output.
pub struct Out {
    w: BufWriter<Stdout>,
}

impl Out {
    pub fn new() -> Out {
        Out {
            w: BufWriter::with_capacity(1 << 16, io::stdout()),
        }
    }

    /// Writes one line.
    pub fn line(&mut self, args: fmt::Arguments<'_>) -> Result<(), Failure> {
        self.w.write_fmt(args).map_err(write_failure)?;
        self.w.write_all(b"\n").map_err(write_failure)
    }

    /// Flushes what is buffered: the last chance for a write to fail.
    pub fn finish(mut self) -> Result<(), Failure> {
        self.w.flush().map_err(write_failure)
    }
}

/// The failure of a write to standard output.
pub fn write_failure(e: io::Error) -> Failure {
    if e.kind() == io::ErrorKind::BrokenPipe {
        Failure::closed_pipe()
    } else {
        Failure::new(format!("cannot write the output: {e}"))
    }
}

/// `outln!(out, "...", args)`: [`Out::line`] with `format_args!`, `?`-ed.
#[macro_export]
macro_rules! outln {
    ($out:expr, $($arg:tt)*) => {
        $out.line(format_args!($($arg)*))?
    };
}
