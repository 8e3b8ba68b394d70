//! The two simplest policies: first-in first-out, and round robin with a quantum.

use alloc::collections::VecDeque;

use crate::{CpuId, Dispatch, Job, JobId, Policy, Stop, Time, Wake};

/// The runnable jobs in arrival order, each with its affinity.
#[derive(Debug, Clone, Default)]
struct Queue {
    jobs: VecDeque<(JobId, u64)>,
}

impl Queue {
    fn push_back(&mut self, job: &Job) {
        self.jobs.push_back((job.id, job.affinity));
    }

    fn push_front(&mut self, job: &Job) {
        self.jobs.push_front((job.id, job.affinity));
    }

    /// The first job that may run on `cpu`, removed.
    fn take_first(&mut self, cpu: CpuId) -> Option<JobId> {
        let allows = |mask: u64| mask == 0 || (cpu < 64 && mask & (1 << cpu) != 0);
        let i = self.jobs.iter().position(|&(_, mask)| allows(mask))?;
        self.jobs.remove(i).map(|(id, _)| id)
    }

    /// The last job that may run on `cpu`, removed (what a thief takes: the coldest).
    fn take_last(&mut self, cpu: CpuId) -> Option<JobId> {
        let allows = |mask: u64| mask == 0 || (cpu < 64 && mask & (1 << cpu) != 0);
        let i = self.jobs.iter().rposition(|&(_, mask)| allows(mask))?;
        self.jobs.remove(i).map(|(id, _)| id)
    }
}

/// First in, first out: each job runs until it blocks or finishes.
#[derive(Debug, Clone, Default)]
pub struct Fifo {
    queue: Queue,
}

impl Fifo {
    pub fn new() -> Self {
        Self::default()
    }
}

impl Policy for Fifo {
    fn name(&self) -> &'static str {
        "fifo"
    }

    fn enqueue(&mut self, job: &Job, _now: Time, _wake: Wake) {
        self.queue.push_back(job);
    }

    fn pick(&mut self, cpu: CpuId, _now: Time) -> Option<Dispatch> {
        self.queue
            .take_first(cpu)
            .map(|job| Dispatch { job, slice: None })
    }

    fn stopped(&mut self, job: &Job, _cpu: CpuId, _ran: Time, _now: Time, stop: Stop) {
        // FIFO gives no slices and never asks to preempt; a driver that preempts anyway gets
        // the job back at the head, where it was.
        if matches!(stop, Stop::Expired | Stop::Preempted) {
            self.queue.push_front(job);
        }
    }

    fn runnable(&self) -> usize {
        self.queue.jobs.len()
    }

    fn steal(&mut self, cpu: CpuId, _now: Time) -> Option<JobId> {
        self.queue.take_last(cpu)
    }
}

/// Round robin: each job runs for at most a quantum, then goes to the back of the queue.
#[derive(Debug, Clone)]
pub struct RoundRobin {
    quantum: Time,
    queue: Queue,
}

impl RoundRobin {
    /// A quantum of 0 is taken as 1 ns.
    pub fn new(quantum: Time) -> Self {
        RoundRobin {
            quantum: quantum.max(1),
            queue: Queue::default(),
        }
    }
}

impl Policy for RoundRobin {
    fn name(&self) -> &'static str {
        "rr"
    }

    fn enqueue(&mut self, job: &Job, _now: Time, _wake: Wake) {
        self.queue.push_back(job);
    }

    fn pick(&mut self, cpu: CpuId, _now: Time) -> Option<Dispatch> {
        self.queue.take_first(cpu).map(|job| Dispatch {
            job,
            slice: Some(self.quantum),
        })
    }

    fn stopped(&mut self, job: &Job, _cpu: CpuId, _ran: Time, _now: Time, stop: Stop) {
        if matches!(stop, Stop::Expired | Stop::Preempted) {
            self.queue.push_back(job);
        }
    }

    fn runnable(&self) -> usize {
        self.queue.jobs.len()
    }

    fn steal(&mut self, cpu: CpuId, _now: Time) -> Option<JobId> {
        self.queue.take_last(cpu)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_runs_in_arrival_order_and_respects_affinity() {
        let mut p = Fifo::new();
        let a = Job::new(1, 0, 10);
        let mut b = Job::new(2, 0, 10);
        b.affinity = 0b10;
        let c = Job::new(3, 0, 10);
        for j in [&a, &b, &c] {
            p.enqueue(j, 0, Wake::Arrived);
        }
        assert_eq!(p.pick(0, 0).map(|d| d.job), Some(1));
        assert_eq!(
            p.pick(0, 0).map(|d| d.job),
            Some(3),
            "b may not run on CPU 0"
        );
        assert_eq!(
            p.pick(1, 0),
            Some(Dispatch {
                job: 2,
                slice: None
            })
        );
        assert_eq!(p.runnable(), 0);
    }

    #[test]
    fn round_robin_cycles_by_the_quantum() {
        let mut p = RoundRobin::new(5);
        let jobs = [Job::new(1, 0, 10), Job::new(2, 0, 10)];
        for j in &jobs {
            p.enqueue(j, 0, Wake::Arrived);
        }
        let mut order = alloc::vec::Vec::new();
        let mut now = 0;
        while let Some(d) = p.pick(0, now) {
            assert_eq!(d.slice, Some(5));
            order.push(d.job);
            now += 5;
            let job = &jobs[(d.job - 1) as usize];
            let done = order.iter().filter(|&&j| j == d.job).count() == 2;
            let stop = if done { Stop::Finished } else { Stop::Expired };
            p.stopped(job, 0, 5, now, stop);
        }
        assert_eq!(order, [1, 2, 1, 2]);
    }
}
