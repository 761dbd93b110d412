//! One stop token for a recording and its threads: a thread waits on it instead of sleeping and
//! polling a flag, so that stopping wakes every thread at once. A [`child`](StopToken::child)
//! stops with its parent and can also be stopped alone (one monitor's track).

use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

#[derive(Default)]
struct Inner {
    state: Mutex<State>,
    woken: Condvar,
}

#[derive(Default)]
struct State {
    stopped: bool,
    children: Vec<Weak<Inner>>,
}

/// Cheap to clone; every clone is the same token.
#[derive(Clone, Default)]
pub struct StopToken(Arc<Inner>);

impl std::fmt::Debug for StopToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StopToken").field("stopped", &self.is_stopped()).finish()
    }
}

impl StopToken {
    pub fn new() -> StopToken {
        StopToken::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.0.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stops this token and its children, waking everyone waiting on them.
    pub fn stop(&self) {
        let children = {
            let mut s = self.state();
            s.stopped = true;
            std::mem::take(&mut s.children)
        };
        self.0.woken.notify_all();
        for child in children.iter().filter_map(Weak::upgrade) {
            StopToken(child).stop();
        }
    }

    pub fn is_stopped(&self) -> bool {
        self.state().stopped
    }

    /// A token that stops when this one does, or when stopped itself.
    pub fn child(&self) -> StopToken {
        let child = StopToken::new();
        let mut s = self.state();
        if s.stopped {
            child.state().stopped = true;
        } else {
            s.children.retain(|c| c.strong_count() > 0);
            s.children.push(Arc::downgrade(&child.0));
        }
        child
    }

    /// Waits up to `timeout` (or until stopped); true if stopped.
    pub fn wait(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut s = self.state();
        while !s.stopped {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            s = self.0.woken.wait_timeout(s, deadline - now).unwrap_or_else(|p| p.into_inner()).0;
        }
        true
    }

    /// Waits until `deadline` (or until stopped); true if stopped.
    pub fn wait_until(&self, deadline: Instant) -> bool {
        self.wait(deadline.saturating_duration_since(Instant::now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stopping_wakes_waiters_at_once() {
        let token = StopToken::new();
        let child = token.child();
        let grandchild = child.child();
        let waiter = {
            let g = grandchild.clone();
            std::thread::spawn(move || {
                let t = Instant::now();
                (g.wait(Duration::from_secs(30)), t.elapsed())
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        token.stop();
        let (stopped, took) = waiter.join().unwrap();
        assert!(stopped);
        assert!(took < Duration::from_secs(5), "woke after {took:?}");
        assert!(child.is_stopped());
    }

    #[test]
    fn a_child_stops_alone_and_timeouts_report_false() {
        let token = StopToken::new();
        let child = token.child();
        child.stop();
        assert!(!token.is_stopped());
        assert!(!token.wait(Duration::from_millis(10)));
        token.stop();
        assert!(token.child().is_stopped(), "a child of a stopped token starts stopped");
    }
}
