//! Waiting for ingest tickets without a thread per request.
//!
//! [`Ticket::wait`] blocks. A `/collect` request hands its ticket to one
//! waiter thread, which waits for the tickets in the order they come and
//! wakes each request's task when its events are durable. The ingest
//! handle finishes submissions in the order they were made, so waiting in
//! turn costs no request more than its own commit (a request handed over
//! a moment late waits only for tickets already done). One thread that
//! sleeps on each commit is far cheaper than a blocking task per request:
//! at thousands of requests a second those hand-offs were most of the
//! server's scheduling work.

use std::sync::mpsc;

use tokio::sync::oneshot;

use crate::error::{Error, Result};
use crate::{Receipt, Ticket};

type Job = (Ticket, oneshot::Sender<Result<Receipt>>);

/// The waiter thread's queue; the thread ends when this is dropped.
pub(super) struct Waiter {
    jobs: mpsc::Sender<Job>,
}

impl Waiter {
    pub(super) fn start() -> Result<Waiter> {
        let (jobs, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("heatstore-http-waiter".into())
            .spawn(move || {
                for (ticket, reply) in rx {
                    // The request may have gone (client closed): nobody to tell.
                    let _ = reply.send(ticket.wait());
                }
            })
            .map_err(Error::Io)?;
        Ok(Waiter { jobs })
    }

    /// The ticket's outcome, once its group commit returned.
    pub(super) async fn wait(&self, ticket: Ticket) -> Result<Receipt> {
        let (tx, rx) = oneshot::channel();
        let lost = || Error::CommitFailed {
            reason: "the server's ticket waiter stopped (a bug: please report it)".into(),
        };
        self.jobs.send((ticket, tx)).map_err(|_| lost())?;
        rx.await.map_err(|_| lost())?
    }
}
