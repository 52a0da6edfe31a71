//! The arrival queue: simulated events wait here until they can be emitted
//! in arrival order.
//!
//! A session's on-time events already arrive in order (their arrival is
//! `ts` plus the session's constant latency), so they stay together as one
//! *run* and a small heap merges the runs of the concurrent sessions by
//! their heads. Late events go to a second heap one by one. This keeps the
//! heaps small (a few dozen runs, the late events in flight) where one heap
//! of every waiting event made `pop` a third of the generator's time.

use std::cmp::Ordering;
use std::collections::binary_heap::PeekMut;
use std::collections::{BinaryHeap, VecDeque};

use super::session::Pending;

/// One session's on-time events, keyed by the head's (arrival, seq).
struct Run {
    arrival: i64,
    seq: u64,
    events: VecDeque<Pending>,
}

// Max-heap: the earliest head must be greatest.
impl Ord for Run {
    fn cmp(&self, other: &Self) -> Ordering {
        (other.arrival, other.seq).cmp(&(self.arrival, self.seq))
    }
}
impl PartialOrd for Run {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for Run {
    fn eq(&self, other: &Self) -> bool {
        (self.arrival, self.seq) == (other.arrival, other.seq)
    }
}
impl Eq for Run {}

/// Waiting events, popped by (arrival, generation order).
#[derive(Default)]
pub(crate) struct ArrivalQueue {
    runs: BinaryHeap<Run>,
    late: BinaryHeap<Pending>,
    len: usize,
    /// Next generation sequence number.
    seq: u64,
}

impl ArrivalQueue {
    /// Events waiting.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Takes a simulated session's events (times relative to `start`, in
    /// generation order), making their times absolute.
    pub(crate) fn push_session(&mut self, staged: &mut Vec<Pending>, start: i64) {
        let mut run = VecDeque::with_capacity(staged.len());
        for mut p in staged.drain(..) {
            p.ts += start;
            p.arrival += start;
            p.seq = self.seq;
            self.seq += 1;
            self.len += 1;
            if p.late {
                self.late.push(p);
            } else {
                debug_assert!(run.back().is_none_or(|b: &Pending| b.arrival <= p.arrival));
                run.push_back(p);
            }
        }
        if let Some(head) = run.front() {
            self.runs.push(Run {
                arrival: head.arrival,
                seq: head.seq,
                events: run,
            });
        }
    }

    /// Arrival time of the next event to pop.
    pub(crate) fn first_arrival(&self) -> Option<i64> {
        match (self.runs.peek(), self.late.peek()) {
            (Some(r), Some(l)) => Some(r.arrival.min(l.arrival)),
            (Some(r), None) => Some(r.arrival),
            (None, Some(l)) => Some(l.arrival),
            (None, None) => None,
        }
    }

    /// The waiting event with the smallest (arrival, seq).
    pub(crate) fn pop(&mut self) -> Option<Pending> {
        let take_late = match (self.runs.peek(), self.late.peek()) {
            (Some(r), Some(l)) => (l.arrival, l.seq) < (r.arrival, r.seq),
            (None, Some(_)) => true,
            (Some(_), None) => false,
            (None, None) => return None,
        };
        self.len -= 1;
        if take_late {
            return self.late.pop();
        }
        let mut top = self.runs.peek_mut()?;
        let p = top.events.pop_front()?;
        match top.events.front() {
            Some(head) => {
                let (arrival, seq) = (head.arrival, head.seq);
                top.arrival = arrival;
                top.seq = seq;
            }
            None => {
                PeekMut::pop(top);
            }
        }
        Some(p)
    }
}
