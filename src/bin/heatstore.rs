//! `heatstore`: the command-line tool over a heatstore file.
//!
//! Each subcommand lives in its own module under `src/bin/heatstore/` with
//! an `Args` struct (clap derive) and a `run` function. Adding one means a
//! new file, a `mod` line and a variant of [`Command`]; no other module
//! changes. (`#[path]` is needed because this binary's root is
//! `src/bin/heatstore.rs`: a crate root looks for its modules beside it, in
//! `src/bin/`, where cargo would take every file for a binary of its own.)
#![deny(unsafe_code)]

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[path = "heatstore/check.rs"]
mod check;
#[path = "heatstore/common.rs"]
mod common;
#[path = "heatstore/delete.rs"]
mod delete;
#[path = "heatstore/export.rs"]
mod export;
#[path = "heatstore/gen.rs"]
mod gen;
#[path = "heatstore/import.rs"]
mod import;
#[path = "heatstore/maintain.rs"]
mod maintain;
#[path = "heatstore/normalize.rs"]
mod normalize;
#[path = "heatstore/out.rs"]
mod out;
#[path = "heatstore/picture.rs"]
mod picture;
#[path = "heatstore/query.rs"]
mod query;
#[path = "heatstore/recover.rs"]
mod recover;
#[path = "heatstore/requests.rs"]
mod requests;
#[cfg(feature = "server")]
#[path = "heatstore/serve.rs"]
mod serve;
#[path = "heatstore/stats.rs"]
mod stats;

/// An embedded, single-file analytics store for website interaction events.
///
/// Exit status: 0 on success, 1 when the command failed (the reason is
/// printed to stderr as `error: ...`), 2 on a usage error.
#[derive(Parser)]
#[command(name = "heatstore", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Import Event NDJSON v1 files, access logs or an export into a store
    /// (created if missing).
    Import(import::Args),
    /// Export one site's events as NDJSON or a Parquet dataset.
    Export(export::Args),
    /// Print counts and sizes of a store.
    Stats(stats::Args),
    /// Write a deterministic synthetic workload as Event NDJSON v1.
    Gen(gen::Args),
    /// Decode every structure of a store and report the first corruption.
    Check(check::Args),
    /// Run a report: heatmap, elements, rage, scroll, referrers, devices,
    /// pages, series, replay, sessions.
    // Boxed: its many options make it by far the largest variant.
    Query(Box<query::Args>),
    /// Record a deletion request (hidden at once, erased by `maintain`).
    Delete(delete::Args),
    /// List deletion requests with their status and deadline.
    Requests(requests::Args),
    /// Carry out deletion requests and retention; erase freed bytes.
    Maintain(maintain::Args),
    /// Print NDJSON events with what ingest derives from them.
    Normalize(normalize::Args),
    /// Set a damaged store aside and salvage what still reads into a new
    /// one at the same path (the only command that moves a store's file).
    Recover(recover::Args),
    /// Serve the tracker's /collect endpoint, the reports' HTTP API and the
    /// dashboard (feature `server`).
    #[cfg(feature = "server")]
    Serve(serve::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Import(args) => import::run(args),
        Command::Export(args) => export::run(args),
        Command::Stats(args) => stats::run(args),
        Command::Gen(args) => gen::run(args),
        Command::Check(args) => check::run(args),
        Command::Query(args) => query::run(args),
        Command::Delete(args) => delete::run(args),
        Command::Requests(args) => requests::run(args),
        Command::Maintain(args) => maintain::run(args),
        Command::Normalize(args) => normalize::run(args),
        Command::Recover(args) => recover::run(args),
        #[cfg(feature = "server")]
        Command::Serve(args) => serve::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // `heatstore ... | head`: the reader has all it wanted.
        Err(failure) if failure.is_closed_pipe() => ExitCode::SUCCESS,
        Err(failure) => {
            // A closed or full stderr is no reason to panic either.
            let _ = writeln!(std::io::stderr(), "error: {failure}");
            ExitCode::FAILURE
        }
    }
}
