//! The ingest handle: many threads submit events, one background
//! committer stores them in group commits.
//!
//! Submissions go into one bounded queue, in the order they are made. The
//! committer takes everything queued (up to [`IngestOptions::max_events`])
//! as one group, builds it into one batch and commits it durably, then
//! tells each submission's [`Ticket`] what became of its events. While one
//! group commits, the next one forms in the queue: the busier the store,
//! the larger the groups, and a lone submitter waits for one commit only.
//! The next group is taken when the one being written lands, or earlier
//! once 256 events wait (then it is built while the other is written).
//! Four threads: the committer builds groups, a writing thread commits
//! them, a notifying thread wakes their submitters (blocked in
//! [`Ticket::wait`], or tasks awaiting their ticket), and a sealer seals
//! the partitions the commits filled, from a snapshot, while the next
//! groups commit ([`IngestOptions::seal_aside`], `write::aside`).

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::core::Core;
use crate::error::{Error, Result};
use crate::event::{Event, EventError};
use crate::ingest::Dropped;
use crate::storage::file::Db;
use crate::write::{write_batch, Appended, Batch, Builder, CommitPlan, Written};

/// How an [`IngestHandle`] groups submissions. [`IngestOptions::default`]
/// documents every default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IngestOptions {
    /// The most time a submission waits in the queue for its group to
    /// start committing, when the committer is free. Zero (the default)
    /// starts a group as soon as the committer is free: groups then form
    /// while the previous commit runs, which is what keeps a lone
    /// submitter's latency at one commit. A few ms gathers larger groups
    /// at low load, trading latency for fewer commits.
    pub max_delay: Duration,
    /// The most events one group commits (default 16,384).
    pub max_events: usize,
    /// The most events the queue holds (default 262,144): beyond it
    /// [`IngestHandle::submit`] waits and [`IngestHandle::try_submit`]
    /// fails with [`Error::QueueFull`]. A submission larger than this is
    /// let in once the queue is empty.
    pub queue_events: usize,
    /// Seal partitions that reach the seal threshold on a thread of the
    /// handle's own, from a snapshot, while group commits go on (the
    /// default, `true`), rather than inside the group commit that fills
    /// them: encoding a partition then no longer delays the durable
    /// acknowledgement of that group. A partition still seals inline once
    /// it holds four times the threshold (the sealer behind).
    pub seal_aside: bool,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            max_delay: Duration::ZERO,
            max_events: 16_384,
            queue_events: 262_144,
            seal_aside: true,
        }
    }
}

/// What became of one submission's events once their group committed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Receipt {
    /// Events stored (durable: the commit that holds them returned).
    pub stored: usize,
    /// Events a privacy rule dropped (Do Not Track, a sensitive selector,
    /// an opt-out or deletion request), by index in the submission.
    pub dropped: Vec<(usize, Dropped)>,
    /// Events rejected, by index in the submission, with the reason
    /// (naming the field). They never fail the other events.
    pub rejected: Vec<(usize, EventError)>,
}

/// Counts of an ingest handle since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IngestStats {
    /// Events submitted.
    pub submitted: u64,
    /// Events stored.
    pub stored: u64,
    /// Events dropped by a privacy rule.
    pub dropped: u64,
    /// Events rejected.
    pub rejected: u64,
    /// Group commits that succeeded.
    pub groups: u64,
    /// Group commits that failed (their events are not stored).
    pub failed_groups: u64,
    /// Events waiting in the queue now.
    pub queued: u64,
    /// Partitions sealed aside ([`IngestOptions::seal_aside`]).
    pub sealed_aside: u64,
    /// Seals aside that found their partition changed while they encoded
    /// it and were tried again (or left to a later commit).
    pub stale_seals: u64,
    /// Seals aside that failed (the partition stays pending: a later
    /// commit seals it).
    pub failed_seals: u64,
    /// The longest a seal aside held up commits, in microseconds.
    pub seal_pause_max_us: u64,
}

/// A submission's claim on its outcome: [`Ticket::wait`] returns once the
/// group commit holding it has returned. Dropping it does not cancel the
/// submission.
#[derive(Debug)]
pub struct Ticket {
    slot: Arc<Slot>,
}

impl Ticket {
    /// Waits until the submission's events are durable (or dropped or
    /// rejected), and says which were which. [`Error::CommitFailed`] when
    /// their group commit failed: none of them is stored then.
    ///
    /// This blocks the thread. In async code, `.await` the ticket instead
    /// (it is a [`Future`](std::future::Future) with the same output): no
    /// thread waits then.
    pub fn wait(self) -> Result<Receipt> {
        let mut state = lock(&self.slot.state);
        loop {
            if let Some(outcome) = state.outcome.take() {
                return outcome;
            }
            state = self
                .slot
                .ready
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Whether the outcome is known (`wait` would not block).
    pub fn is_done(&self) -> bool {
        lock(&self.slot.state).outcome.is_some()
    }
}

/// Awaiting a ticket gives what [`Ticket::wait`] gives, without blocking
/// the thread: the committer wakes the task when the group commit holding
/// the submission has returned. Any executor works (the ticket needs no
/// runtime of its own). Polling it again after it returned `Ready` gives
/// [`Error::CommitFailed`].
///
/// ```
/// # use heatstore::{Event, EventKind, Store};
/// # let store = Store::in_memory()?;
/// # let ingest = store.ingest()?;
/// # let mut e = Event::new("a.com", 1_700_000_000_000, EventKind::Leave, "s1", "/");
/// # e.duration_ms = Some(5_000);
/// let ticket = ingest.submit(vec![e])?;
/// // In an async handler: `let receipt = ticket.await?;`
/// # let receipt = ticket.wait()?;
/// assert_eq!(receipt.stored, 1);
/// # Ok::<(), heatstore::Error>(())
/// ```
impl std::future::Future for Ticket {
    type Output = Result<Receipt>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let mut state = lock(&self.slot.state);
        if let Some(outcome) = state.outcome.take() {
            state.polled_out = true;
            return std::task::Poll::Ready(outcome);
        }
        if state.polled_out {
            return std::task::Poll::Ready(Err(Error::CommitFailed {
                reason: "the ticket was awaited again after it returned its outcome".into(),
            }));
        }
        match &state.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => state.waker = Some(cx.waker().clone()),
        }
        std::task::Poll::Pending
    }
}

#[derive(Debug, Default)]
struct Slot {
    state: Mutex<SlotState>,
    ready: Condvar,
    filled: std::sync::atomic::AtomicBool,
}

#[derive(Debug, Default)]
struct SlotState {
    outcome: Option<Result<Receipt>>,
    /// The task awaiting the ticket, if it is awaited.
    waker: Option<std::task::Waker>,
    /// An await already returned the outcome.
    polled_out: bool,
}

impl Slot {
    fn fill(&self, outcome: Result<Receipt>) {
        self.filled
            .store(true, std::sync::atomic::Ordering::Release);
        let waker = {
            let mut state = lock(&self.state);
            state.outcome = Some(outcome);
            state.waker.take()
        };
        self.ready.notify_all();
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl Drop for Submission {
    fn drop(&mut self) {
        // A submission lost without an outcome (a bug made the committer
        // drop it): its ticket must not wait forever.
        if !self.slot.filled.load(std::sync::atomic::Ordering::Acquire) {
            self.slot.fill(Err(Error::CommitFailed {
                reason: "the committer lost the submission (a bug: please report it)".into(),
            }));
        }
    }
}

struct Submission {
    /// Events that passed validation, with their index in the submission.
    events: Vec<(usize, Event)>,
    /// Those that did not.
    rejected: Vec<(usize, EventError)>,
    slot: Arc<Slot>,
    at: Instant,
}

#[derive(Default)]
struct Queue {
    items: VecDeque<Submission>,
    /// Events in `items`.
    events: usize,
    closed: bool,
    /// Submissions made so far, and finished so far (in order: the
    /// committer finishes them in submission order).
    submitted: u64,
    finished: u64,
    /// The first failed group's error not yet returned by a flush.
    unreported: Option<String>,
    /// A flush is waiting: start the next group without delay.
    hurry: bool,
    /// Groups the writing thread has finished (durable or failed).
    landed: u64,
    stats: IngestStats,
}

struct Shared {
    queue: Mutex<Queue>,
    /// Signalled when the queue gains a submission or is closed.
    work: Condvar,
    /// Signalled when the queue loses submissions (room) or finishes some.
    progress: Condvar,
    options: IngestOptions,
}

/// Submits events to a store from any number of threads, committed in
/// groups by one background thread. Get one from
/// [`Store::ingest`](crate::Store::ingest); clone it freely (clones share
/// the queue and the committer).
///
/// Events are applied in submission order: those of one thread in the
/// order it submitted them, and a control operation (deletion request,
/// opt-out, site settings) that returned before a submission is made
/// applies to its events. An opt-out therefore drops every event of the
/// visitor submitted after `opt_out` returned; events submitted before it
/// may be stored, and are then deleted with the visitor's past ones.
///
/// Dropping the last clone, or [`IngestHandle::close`], commits what was
/// submitted and stops the committer.
///
/// ```
/// use std::sync::Arc;
/// use heatstore::{Event, EventKind, Store};
/// let store = Arc::new(Store::in_memory()?);
/// let ingest = store.ingest()?;
/// let threads: Vec<_> = (0..4)
///     .map(|t| {
///         let ingest = ingest.clone();
///         std::thread::spawn(move || {
///             let session = format!("s{t}");
///             let mut e = Event::new("a.com", 1_700_000_000_000 + t, EventKind::Leave, &session, "/");
///             e.duration_ms = Some(5_000);
///             ingest.submit(vec![e])?.wait()
///         })
///     })
///     .collect();
/// for t in threads {
///     assert_eq!(t.join().unwrap()?.stored, 1);
/// }
/// ingest.close()?;
/// assert_eq!(store.snapshot()?.counts("a.com")?.events, 4);
/// # Ok::<(), heatstore::Error>(())
/// ```
#[derive(Clone)]
pub struct IngestHandle {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    committer: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Inner {
    fn stop(&self) {
        lock(&self.shared.queue).closed = true;
        self.shared.work.notify_all();
        if let Some(t) = lock(&self.committer).take() {
            // The committer catches its own panics: joining cannot fail
            // but for one in the unwinding machinery itself.
            let _ = t.join();
        }
    }
}

impl std::fmt::Debug for IngestHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IngestHandle")
            .field("options", &self.inner.shared.options)
            .field("stats", &self.stats())
            .finish()
    }
}

impl IngestHandle {
    pub(crate) fn start(core: Arc<Core>, options: IngestOptions) -> Result<IngestHandle> {
        if options.max_events == 0 || options.queue_events == 0 {
            return Err(Error::InvalidArgument(
                "IngestOptions::max_events and queue_events must be at least 1".into(),
            ));
        }
        if matches!(*core.db(), Db::Ro(_)) {
            return Err(Error::ReadOnly);
        }
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            work: Condvar::new(),
            progress: Condvar::new(),
            options,
        });
        let for_thread = Arc::clone(&shared);
        let committer = std::thread::Builder::new()
            .name("heatstore-committer".into())
            .spawn(move || commit_loop(&core, &for_thread))
            .map_err(Error::Io)?;
        Ok(IngestHandle {
            inner: Arc::new(Inner {
                shared,
                committer: Mutex::new(Some(committer)),
            }),
        })
    }

    /// Submits events (one or a batch), waiting while the queue is full.
    /// Each is validated at once; the returned [`Ticket`] tells, after the
    /// group commit, which were stored, dropped or rejected.
    pub fn submit(&self, events: Vec<Event>) -> Result<Ticket> {
        self.enqueue(events, true)
    }

    /// [`IngestHandle::submit`] that fails with [`Error::QueueFull`]
    /// instead of waiting.
    pub fn try_submit(&self, events: Vec<Event>) -> Result<Ticket> {
        self.enqueue(events, false)
    }

    /// Submits and waits until the events are durable.
    pub fn submit_durable(&self, events: Vec<Event>) -> Result<Receipt> {
        self.submit(events)?.wait()
    }

    fn enqueue(&self, events: Vec<Event>, wait: bool) -> Result<Ticket> {
        let n = events.len();
        let mut valid = Vec::with_capacity(n);
        let mut rejected = Vec::new();
        for (i, e) in events.into_iter().enumerate() {
            match e.validate() {
                Ok(()) => valid.push((i, e)),
                Err(err) => rejected.push((i, err)),
            }
        }
        let slot = Arc::new(Slot::default());
        let shared = &self.inner.shared;
        let mut q = lock(&shared.queue);
        let cap = shared.options.queue_events;
        loop {
            if q.closed {
                return Err(Error::Closed);
            }
            if q.events == 0 || q.events + valid.len() <= cap {
                break;
            }
            if !wait {
                return Err(Error::QueueFull { capacity: cap });
            }
            q = shared
                .progress
                .wait(q)
                .unwrap_or_else(PoisonError::into_inner);
        }
        q.submitted += 1;
        q.stats.submitted += n as u64;
        q.stats.rejected += rejected.len() as u64;
        q.events += valid.len();
        q.items.push_back(Submission {
            events: valid,
            rejected,
            slot: Arc::clone(&slot),
            at: Instant::now(),
        });
        drop(q);
        shared.work.notify_one();
        Ok(Ticket { slot })
    }

    /// Waits until everything submitted before the call is committed (or
    /// failed). Returns the first group commit error since the last flush
    /// ([`Error::CommitFailed`]), if any.
    pub fn flush(&self) -> Result<()> {
        let shared = &self.inner.shared;
        let mut q = lock(&shared.queue);
        let target = q.submitted;
        q.hurry = true;
        shared.work.notify_one();
        while q.finished < target {
            q = shared
                .progress
                .wait(q)
                .unwrap_or_else(PoisonError::into_inner);
        }
        match q.unreported.take() {
            Some(reason) => Err(Error::CommitFailed { reason }),
            None => Ok(()),
        }
    }

    /// Commits what was submitted and stops the committer (for every
    /// clone: later submissions fail with [`Error::Closed`]). Returns the
    /// handle's counts.
    pub fn close(self) -> Result<IngestStats> {
        self.inner.stop();
        let q = lock(&self.inner.shared.queue);
        let stats = q.stats;
        match &q.unreported {
            Some(reason) => Err(Error::CommitFailed {
                reason: reason.clone(),
            }),
            None => Ok(stats),
        }
    }

    /// Counts since the handle started.
    pub fn stats(&self) -> IngestStats {
        let q = lock(&self.inner.shared.queue);
        IngestStats {
            queued: q.events as u64,
            ..q.stats
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves its data whole: a panic elsewhere
    // while one was held changes nothing in it.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A group whose batch is being written on the writing thread.
struct Flight {
    id: u64,
}

/// What the writing thread is given: a group's batch, and its submitters
/// to tell once it is durable.
struct Job {
    batch: Batch,
    plan: CommitPlan,
    group: Vec<Submission>,
    receipts: Vec<Receipt>,
    /// Counts the batch in flight until it is written.
    passage: crate::core::Passage,
}

/// The committer: takes groups from the queue until it is closed and
/// empty. Each group's batch is written (and made durable) on a second
/// thread, which tells the group's submitters at once, while the
/// committer builds the next group: the two overlap, and the queue fills
/// meanwhile, so groups grow with the load.
fn commit_loop(core: &Core, shared: &Shared) {
    let (jobs_tx, jobs_rx) = std::sync::mpsc::sync_channel::<Job>(0);
    let (done_tx, done_rx) = std::sync::mpsc::sync_channel::<Result<Written>>(1);
    // Waking a group's submitters is a system call each: a third thread
    // does it, so that the writing thread (the bottleneck under load)
    // goes on to the next commit at once.
    std::thread::scope(|scope| {
        let (tell_tx, tell_rx) = std::sync::mpsc::channel::<Telling>();
        let notifier = std::thread::Builder::new()
            .name("heatstore-notifier".into())
            .spawn_scoped(scope, move || {
                for (group, outcome) in tell_rx {
                    report(shared, group, outcome);
                }
            });
        // Without the thread, or once it is gone, this thread tells.
        let teller = notifier.is_ok().then_some(tell_tx);
        let tell = Teller { shared, tx: teller };
        let writer_tell = tell.clone();
        // Partitions due for sealing go to the sealer; without it (not
        // wanted, or it could not start) commits seal them inline.
        let (seal_tx, seal_rx) = std::sync::mpsc::channel::<Due>();
        let sealer = shared.options.seal_aside.then(|| {
            std::thread::Builder::new()
                .name("heatstore-sealer".into())
                .spawn_scoped(scope, move || seal_loop(core, shared, &seal_rx))
        });
        let seal_tx = matches!(sealer, Some(Ok(_))).then_some(seal_tx);
        let defer_seal = seal_tx.is_some();
        let writer = std::thread::Builder::new()
            .name("heatstore-group-writer".into())
            .spawn_scoped(scope, move || {
                for job in jobs_rx {
                    let Job {
                        batch,
                        plan,
                        group,
                        receipts,
                        passage,
                    } = job;
                    let seal_rows = plan.seal_rows;
                    let written = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        crate::guard::guarded("writing a group", || write_batch(core, batch, plan))
                    }))
                    .unwrap_or_else(|_| Err(panicked()));
                    drop(passage);
                    // Durable (or failed): the submitters may go on.
                    let (outcome, written) = match written {
                        Ok(mut w) => {
                            let due = std::mem::take(&mut w.due);
                            if !due.is_empty() {
                                if let Some(tx) = &seal_tx {
                                    let _ = tx.send((due, seal_rows));
                                }
                            }
                            (Ok(receipts), Ok(w))
                        }
                        Err(e) => {
                            let reason = e.to_string();
                            (Err(e), Err(Error::CommitFailed { reason }))
                        }
                    };
                    writer_tell.tell(group, outcome);
                    if done_tx.send(written).is_err() {
                        return;
                    }
                    lock(&shared.queue).landed += 1;
                    shared.work.notify_one();
                }
            });
        if writer.is_err() {
            // No second thread: fail what comes, rather than hang.
            fail_all(shared, "the committer could not start its writing thread");
            return;
        }
        let mut flight: Option<Flight> = None;
        // Groups handed to the writing thread so far.
        let mut dispatched = 0u64;
        loop {
            let Some(group) = take_group(shared, flight.as_ref().map(|_| dispatched)) else {
                break;
            };
            if group.is_empty() {
                // Nothing queued: wait for the group in flight.
                if let Some(f) = flight.take() {
                    let written = done_rx.recv().unwrap_or_else(|_| Err(panicked()));
                    let _ = Builder::new(core).finish(f.id, written);
                }
                continue;
            }
            let step = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                crate::guard::guarded("committing a group", || {
                    let mut b = Builder::new(core);
                    let receipts = build_group(&mut b, &group);
                    // The previous group's outcome, now that this one is
                    // built (its submitters know it already).
                    if let Some(f) = flight.take() {
                        let written = done_rx.recv().unwrap_or_else(|_| Err(panicked()));
                        let _ = b.finish(f.id, written);
                    }
                    let receipts = match receipts {
                        Ok(r) => r,
                        Err(e) => {
                            b.rollback_batch();
                            tell.tell(group, Err(e));
                            return Ok(());
                        }
                    };
                    match b.take_for_commit() {
                        Some((id, batch, mut plan, passage)) => {
                            drop(b);
                            plan.defer_seal = defer_seal;
                            let job = Job {
                                batch,
                                plan,
                                group,
                                receipts,
                                passage,
                            };
                            if let Err(std::sync::mpsc::SendError(job)) = jobs_tx.send(job) {
                                tell.tell(job.group, Err(panicked()));
                            } else {
                                dispatched += 1;
                                flight = Some(Flight { id });
                            }
                        }
                        // Nothing to write (all dropped or rejected).
                        None => tell.tell(group, Ok(receipts)),
                    }
                    Ok(())
                })
            }));
            if !matches!(step, Ok(Ok(()))) {
                // A bug or a damaged page while building: the group was
                // lost with the panic; keep serving (its submissions were
                // dropped with it, which fails their tickets).
                if flight.take().is_some() {
                    let _ = done_rx.recv();
                }
            }
        }
        if let Some(f) = flight.take() {
            let written = done_rx.recv().unwrap_or_else(|_| Err(panicked()));
            let mut b = Builder::new(core);
            let _ = b.finish(f.id, written);
        }
        drop(jobs_tx);
    });
}

/// Seals aside the partitions commits left due ([`Core::seal_aside`]),
/// one at a time, until the writing thread is gone and nothing is due.
/// A stale seal is tried again a few times; one that finds maintenance
/// running waits for it (but not once the handle is closing).
fn seal_loop(core: &Core, shared: &Shared, due_rx: &std::sync::mpsc::Receiver<Due>) {
    use crate::write::Aside;
    use std::sync::mpsc::RecvTimeoutError;
    const TRIES: u32 = 3;
    // Partition → stale tries so far.
    let mut due: std::collections::BTreeMap<(u32, i32), u32> = Default::default();
    // The threshold of the latest commit: a partition sealed meanwhile
    // (its pending rows below it again) is not sealed again.
    let mut seal_rows = 1;
    let mut open = true;
    let mut wait = false;
    loop {
        if open && (due.is_empty() || wait) {
            let timeout = if due.is_empty() {
                Duration::from_secs(3600)
            } else {
                Duration::from_millis(100)
            };
            match due_rx.recv_timeout(timeout) {
                Ok((list, rows)) => {
                    seal_rows = rows;
                    list.into_iter().for_each(|k| {
                        due.entry(k).or_insert(0);
                    });
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => open = false,
            }
        }
        wait = false;
        while open {
            match due_rx.try_recv() {
                Ok((list, rows)) => {
                    seal_rows = rows;
                    list.into_iter().for_each(|k| {
                        due.entry(k).or_insert(0);
                    });
                }
                Err(std::sync::mpsc::TryRecvError::Empty) => break,
                Err(std::sync::mpsc::TryRecvError::Disconnected) => open = false,
            }
        }
        let Some((key, tries)) = due.pop_first() else {
            if open {
                continue;
            }
            return;
        };
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            crate::guard::guarded("sealing aside", || core.seal_aside(key.0, key.1, seal_rows))
        }))
        .unwrap_or_else(|_| Err(panicked()));
        let mut q = lock(&shared.queue);
        match outcome {
            Ok(Aside::Sealed { rows, pause }) => {
                q.stats.sealed_aside += 1;
                let us = u64::try_from(pause.as_micros()).unwrap_or(u64::MAX);
                q.stats.seal_pause_max_us = q.stats.seal_pause_max_us.max(us);
                if std::env::var_os("HEATSTORE_TRACE").is_some() {
                    eprintln!("sealed aside {key:?}: {rows} rows, commits paused {pause:?}");
                }
            }
            Ok(Aside::Nothing) => {}
            Ok(Aside::Stale) => {
                q.stats.stale_seals += 1;
                if tries + 1 < TRIES {
                    due.insert(key, tries + 1);
                }
            }
            Ok(Aside::Busy) => {
                if open {
                    due.insert(key, tries);
                    wait = true;
                }
            }
            Err(_) => q.stats.failed_seals += 1,
        }
    }
}

/// Partitions a commit left due for sealing, and its seal threshold.
type Due = (Vec<(u32, i32)>, u64);

/// A group's submitters and what became of them.
type Telling = (Vec<Submission>, Result<Vec<Receipt>>);

/// Tells submitters their outcome through the notifying thread, in the
/// order groups were told (or on this thread when there is none).
#[derive(Clone)]
struct Teller<'s> {
    shared: &'s Shared,
    tx: Option<std::sync::mpsc::Sender<Telling>>,
}

impl Teller<'_> {
    fn tell(&self, group: Vec<Submission>, outcome: Result<Vec<Receipt>>) {
        match &self.tx {
            Some(tx) => {
                if let Err(std::sync::mpsc::SendError((group, outcome))) = tx.send((group, outcome))
                {
                    report(self.shared, group, outcome);
                }
            }
            None => report(self.shared, group, outcome),
        }
    }
}

fn panicked() -> Error {
    Error::CommitFailed {
        reason: "the committer panicked (a bug: please report it)".into(),
    }
}

/// Queued events that make the committer build the next group while the
/// previous one is still being written; with fewer, it waits for that
/// write to land first, so that a light load (a few dozen submitters
/// sending single events) commits everything that arrived meanwhile as one
/// group, instead of a few stragglers now and the rest a commit later.
const EARLY_GROUP_EVENTS: usize = 256;

/// The next group: everything queued, up to `max_events` (at least one
/// submission). With nothing in flight (`flight` is `None`) it waits for
/// one, honouring `max_delay`. With a group in flight (`flight`: the
/// groups dispatched so far) it waits until that group has landed or
/// [`EARLY_GROUP_EVENTS`] are queued, and returns what is there, possibly
/// nothing. `None`: closed and drained.
fn take_group(shared: &Shared, flight: Option<u64>) -> Option<Vec<Submission>> {
    let wait = flight.is_none();
    let mut q = lock(&shared.queue);
    if let Some(dispatched) = flight {
        while q.landed < dispatched
            && q.events < EARLY_GROUP_EVENTS.min(shared.options.max_events)
            && !q.closed
            && !q.hurry
        {
            q = shared.work.wait(q).unwrap_or_else(PoisonError::into_inner);
        }
    }
    loop {
        if !q.items.is_empty() {
            let waited = q.items.front().map_or(Duration::ZERO, |s| s.at.elapsed());
            let delay = shared.options.max_delay;
            if !wait
                || q.closed
                || q.hurry
                || q.events >= shared.options.max_events
                || waited >= delay
            {
                break;
            }
            q = shared
                .work
                .wait_timeout(q, delay - waited)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            continue;
        }
        if !wait {
            return Some(Vec::new());
        }
        if q.closed {
            return None;
        }
        q.hurry = false;
        q = shared.work.wait(q).unwrap_or_else(PoisonError::into_inner);
    }
    let mut group = Vec::new();
    let mut events = 0;
    while let Some(s) = q.items.front() {
        if !group.is_empty() && events + s.events.len() > shared.options.max_events {
            break;
        }
        events += s.events.len();
        if let Some(s) = q.items.pop_front() {
            group.push(s);
        }
    }
    q.events -= events;
    if q.items.is_empty() {
        q.hurry = false;
    }
    drop(q);
    // Room in the queue.
    shared.progress.notify_all();
    Some(group)
}

/// Builds a group into the builder's batch: a receipt per submission.
fn build_group(b: &mut Builder<'_>, group: &[Submission]) -> Result<Vec<Receipt>> {
    let mut receipts = Vec::with_capacity(group.len());
    for s in group {
        let mut r = Receipt::default();
        for (i, e) in &s.events {
            match b.append_event(&e.view()) {
                Ok(Appended::Buffered) => r.stored += 1,
                Ok(Appended::Dropped(d)) => r.dropped.push((*i, d)),
                Err(Error::InvalidEvent(err)) => r.rejected.push((*i, err)),
                Err(other) => return Err(other),
            }
        }
        receipts.push(r);
    }
    Ok(receipts)
}

/// Tells a group's submitters what became of their events.
fn report(shared: &Shared, group: Vec<Submission>, outcome: Result<Vec<Receipt>>) {
    let n = group.len() as u64;
    let mut q = lock(&shared.queue);
    match outcome {
        Ok(receipts) => {
            q.stats.groups += 1;
            for (mut s, mut r) in group.into_iter().zip(receipts) {
                q.stats.stored += r.stored as u64;
                q.stats.dropped += r.dropped.len() as u64;
                q.stats.rejected += r.rejected.len() as u64;
                r.rejected.append(&mut s.rejected);
                r.rejected.sort_by_key(|(i, _)| *i);
                s.slot.fill(Ok(r));
            }
        }
        Err(e) => {
            q.stats.failed_groups += 1;
            let reason = match e {
                Error::CommitFailed { reason } => reason,
                other => other.to_string(),
            };
            q.unreported.get_or_insert_with(|| reason.clone());
            for s in &group {
                s.slot.fill(Err(Error::CommitFailed {
                    reason: reason.clone(),
                }));
            }
        }
    }
    q.finished += n;
    drop(q);
    shared.progress.notify_all();
}

/// Fails everything queued now and later (the committer cannot work).
fn fail_all(shared: &Shared, why: &str) {
    while let Some(group) = take_group(shared, None) {
        report(
            shared,
            group,
            Err(Error::CommitFailed { reason: why.into() }),
        );
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};

    use crate::{Event, EventKind, Store};

    /// Wakes the thread that polls.
    struct Unpark(std::thread::Thread);

    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }

    fn leave(session: &str, ts: i64) -> Event {
        let mut e = Event::new("a.com", ts, EventKind::Leave, session, "/");
        e.duration_ms = Some(1_000);
        e
    }

    #[test]
    fn an_awaited_ticket_is_woken_with_its_outcome() {
        let store = Store::in_memory().unwrap();
        let ingest = store.ingest().unwrap();
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        let mut bad = leave("s2", 1_700_000_000_001);
        bad.duration_ms = None;
        let mut ticket = ingest
            .submit(vec![leave("s1", 1_700_000_000_000), bad])
            .unwrap();
        let started = std::time::Instant::now();
        let receipt = loop {
            match std::pin::Pin::new(&mut ticket).poll(&mut cx) {
                Poll::Ready(r) => break r.unwrap(),
                // Woken by the committer; the timeout only bounds a lost
                // wake-up, which the time below would show.
                Poll::Pending => std::thread::park_timeout(std::time::Duration::from_secs(10)),
            }
        };
        assert_eq!(receipt.stored, 1);
        assert_eq!(receipt.rejected.len(), 1);
        assert_eq!(receipt.rejected[0].0, 1);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "the waker was not used"
        );
        // Polled again after `Ready`: an error, not a hang.
        match std::pin::Pin::new(&mut ticket).poll(&mut cx) {
            Poll::Ready(Err(crate::Error::CommitFailed { .. })) => {}
            other => panic!("{other:?}"),
        }
        ingest.close().unwrap();
        assert_eq!(store.snapshot().unwrap().counts("a.com").unwrap().events, 1);
    }
}
