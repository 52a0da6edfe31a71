//! What the subcommands share: the failure type, the `--db` argument and
//! value parsers for times and sites.

use std::fmt;
use std::path::{Path, PathBuf};

use std::io::Write;
use std::time::Duration;

use heatstore::{OpenOptions, Store};

/// Why a command failed: printed as `error: <message>`, exit status 1;
/// or standard output was closed (`| head`): no message, exit status 0.
#[derive(Debug)]
pub struct Failure {
    message: String,
    closed_pipe: bool,
}

impl Failure {
    /// A failure with a message of our own.
    pub fn new(message: impl fmt::Display) -> Failure {
        Failure {
            message: message.to_string(),
            closed_pipe: false,
        }
    }

    /// The reader of standard output went away: not an error of ours.
    pub fn closed_pipe() -> Failure {
        Failure {
            message: String::new(),
            closed_pipe: true,
        }
    }

    /// Whether this is [`Failure::closed_pipe`].
    pub fn is_closed_pipe(&self) -> bool {
        self.closed_pipe
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<heatstore::Error> for Failure {
    fn from(e: heatstore::Error) -> Failure {
        Failure::new(e)
    }
}

/// A command's result.
pub type CmdResult = Result<(), Failure>;

/// The store a command works on.
#[derive(clap::Args, Debug, Clone)]
pub struct DbArg {
    /// The store's file.
    #[arg(long, value_name = "DB")]
    pub db: PathBuf,
    /// Seconds to wait for a store another process has open (one writer
    /// or many readers at a time) before failing with "store in use".
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub wait: f64,
}

impl DbArg {
    fn options(&self) -> OpenOptions {
        let mut o = OpenOptions::new();
        o.wait(Duration::from_secs_f64(self.wait.clamp(0.0, 86_400.0)));
        o
    }

    /// Opens the store for writing, creating it when the file does not
    /// exist.
    pub fn open_or_create(&self) -> Result<Store, Failure> {
        Ok(self.options().open(&self.db)?)
    }

    /// Opens an existing store for writing; a missing file is an error,
    /// never a new, empty store (a typo in the path would otherwise look
    /// like no data).
    pub fn open_existing(&self) -> Result<Store, Failure> {
        require_file(&self.db)?;
        Ok(self.options().create(false).open(&self.db)?)
    }

    /// Opens an existing store read-only, for commands that only read: it
    /// may be on read-only media, and other readers may have it open too.
    /// A store left unclean by a dead process is repaired first by a
    /// writable open when the file is writable (said on stderr), since a
    /// read-only open cannot repair it.
    pub fn open_read(&self) -> Result<Store, Failure> {
        require_file(&self.db)?;
        let mut o = self.options();
        o.read_only(true);
        match o.open(&self.db) {
            Err(heatstore::Error::NeedsRepair { .. } | heatstore::Error::NeedsUpgrade { .. })
                if writable(&self.db) =>
            {
                let _ = writeln!(
                    std::io::stderr(),
                    "note: {} was not closed cleanly or is of an older format: opening it for \
                     writing once to repair or upgrade it",
                    self.db.display()
                );
                drop(self.options().create(false).open(&self.db)?);
                Ok(o.open(&self.db)?)
            }
            other => Ok(other?),
        }
    }
}

fn writable(path: &Path) -> bool {
    std::fs::OpenOptions::new().write(true).open(path).is_ok()
}

fn require_file(path: &Path) -> Result<(), Failure> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(()),
        Ok(_) => Err(Failure::new(format!(
            "{} is not a file (give the store's file with --db)",
            path.display()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Failure::new(format!(
            "no store at {}: the file does not exist (`heatstore import --db {}` creates one)",
            path.display(),
            path.display()
        ))),
        Err(e) => Err(Failure::new(format!("cannot read {}: {e}", path.display()))),
    }
}

/// clap value parsers for a time (ms since the Unix epoch, RFC 3339 or a date)
/// and a site name: the library's, which the server's query strings use
/// too. clap names the flag in its error.
pub use heatstore::report::{parse_site, parse_time as parse_time_arg};

/// clap value parser for a share in 0..=1.
pub fn parse_fraction(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(f) if (0.0..=1.0).contains(&f) => Ok(f),
        _ => Err("expected a number from 0 to 1".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_ms_or_rfc3339() {
        assert_eq!(parse_time_arg("1500"), Ok(1500));
        assert_eq!(parse_time_arg("1970-01-01T00:00:01.5Z"), Ok(1500));
        assert!(parse_time_arg("yesterday").is_err());
        assert!(parse_time_arg("-5").is_err());
    }

    #[test]
    fn sites_and_fractions_are_checked() {
        assert!(parse_site("").is_err());
        assert!(parse_site(&"a".repeat(254)).is_err());
        assert_eq!(parse_site("a.example").as_deref(), Ok("a.example"));
        assert_eq!(parse_fraction("0.5"), Ok(0.5));
        assert!(parse_fraction("1.5").is_err());
        assert!(parse_fraction("NaN").is_err());
    }
}
