//! Erasure without an operator: a background thread that runs maintenance
//! when it is due, so that deletion deadlines and retention hold in a
//! server nobody tends.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::core::Core;
use crate::deletion::{MaintenanceReport, MaintenanceStatus};
use crate::error::{Error, Result};
use crate::guard::guarded;
use crate::storage::file::Db;

/// When the scheduler runs maintenance. [`ScheduleOptions::default`]
/// documents every default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleOptions {
    /// A run is due this long before the earliest pending deadline
    /// (default 7 days): a run that fails or is slow still has a week to
    /// succeed before the 180-day promise is broken.
    pub lead: Duration,
    /// A run is due once the oldest pending request is this old (default
    /// 1 day): requests are carried out in daily batches, not one run per
    /// request, and long before their deadlines.
    pub batch_after: Duration,
    /// For sites with a retention period, a run is due this long after the
    /// last one (default 1 day).
    pub retention_every: Duration,
    /// How often the scheduler looks (default 1 minute). After a failed
    /// run it waits this long before trying again.
    pub check_every: Duration,
}

impl Default for ScheduleOptions {
    fn default() -> Self {
        ScheduleOptions {
            lead: Duration::from_secs(7 * 86_400),
            batch_after: Duration::from_secs(86_400),
            retention_every: Duration::from_secs(86_400),
            check_every: Duration::from_secs(60),
        }
    }
}

/// What the scheduler has done, beside where erasure stands.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScheduleStatus {
    /// Where erasure stands now (last run, pending, next due, overdue).
    pub store: MaintenanceStatus,
    /// Runs this scheduler started.
    pub runs: u64,
    /// The last run this scheduler started that failed, with why; cleared
    /// by the next run that succeeds.
    pub last_error: Option<String>,
    /// The report of the last run this scheduler finished.
    pub last_report: Option<MaintenanceReport>,
}

#[derive(Default)]
struct State {
    stop: bool,
    /// Look now (a request was filed, a test wants a run).
    poke: bool,
    runs: u64,
    last_error: Option<String>,
    last_report: Option<MaintenanceReport>,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs maintenance in the background when it is due. Get one from
/// [`Store::start_maintenance`](crate::Store::start_maintenance);
/// dropping it (or [`Scheduler::stop`]) stops the thread after the run
/// under way, if any.
///
/// ```
/// use std::sync::Arc;
/// use heatstore::{ScheduleOptions, Store};
/// let store = Arc::new(Store::in_memory()?);
/// let scheduler = store.start_maintenance(ScheduleOptions::default())?;
/// let status = scheduler.status()?;
/// assert_eq!(status.store.pending, 0);
/// assert_eq!(status.store.next_due, None); // nothing to do
/// scheduler.stop();
/// # Ok::<(), heatstore::Error>(())
/// ```
pub struct Scheduler {
    core: Arc<Core>,
    shared: Arc<Shared>,
    options: ScheduleOptions,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Scheduler {
    pub(crate) fn start(core: Arc<Core>, options: ScheduleOptions) -> Result<Scheduler> {
        if matches!(*core.db(), Db::Ro(_)) {
            return Err(Error::ReadOnly);
        }
        if options.check_every.is_zero() {
            return Err(Error::InvalidArgument(
                "ScheduleOptions::check_every must be more than zero".into(),
            ));
        }
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                poke: true,
                ..State::default()
            }),
            wake: Condvar::new(),
        });
        let thread = {
            let core = Arc::clone(&core);
            let shared = Arc::clone(&shared);
            let options = options.clone();
            std::thread::Builder::new()
                .name("heatstore-maintenance".into())
                .spawn(move || run_loop(&core, &shared, &options))
                .map_err(Error::Io)?
        };
        Ok(Scheduler {
            core,
            shared,
            options,
            thread: Some(thread),
        })
    }

    /// Where erasure stands, and what this scheduler has done.
    pub fn status(&self) -> Result<ScheduleStatus> {
        let store = status_of(&self.core, crate::time::now_ms(), &self.options)?;
        let s = lock(&self.shared.state);
        Ok(ScheduleStatus {
            store,
            runs: s.runs,
            last_error: s.last_error.clone(),
            last_report: s.last_report.clone(),
        })
    }

    /// Makes the scheduler look now rather than at its next check (a run
    /// starts only if one is due).
    pub fn poke(&self) {
        lock(&self.shared.state).poke = true;
        self.shared.wake.notify_all();
    }

    /// Stops the scheduler, after the run under way if any.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        lock(&self.shared.state).stop = true;
        self.shared.wake.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Where erasure stands at `now` under the schedule of `options`.
pub(crate) fn status_of(
    core: &Core,
    now: i64,
    options: &ScheduleOptions,
) -> Result<MaintenanceStatus> {
    guarded("reading the maintenance status", || {
        core.maintenance_status(
            now,
            options.lead,
            options.batch_after,
            options.retention_every,
        )
    })
}

fn run_loop(core: &Core, shared: &Shared, options: &ScheduleOptions) {
    loop {
        {
            let mut s = lock(&shared.state);
            if !s.poke && !s.stop {
                s = shared
                    .wake
                    .wait_timeout(s, options.check_every)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            if s.stop {
                return;
            }
            s.poke = false;
        }
        let now = crate::time::now_ms();
        let due = match status_of(core, now, options) {
            Ok(st) => st.next_due.is_some_and(|d| d <= now),
            Err(e) => {
                lock(&shared.state).last_error = Some(format!("reading the status: {e}"));
                false
            }
        };
        if !due {
            continue;
        }
        let outcome = guarded("running maintenance", || core.maintenance(now));
        let mut s = lock(&shared.state);
        s.runs += 1;
        match outcome {
            Ok(report) => {
                s.last_error = None;
                s.last_report = Some(report);
            }
            Err(e) => s.last_error = Some(e.to_string()),
        }
    }
}
