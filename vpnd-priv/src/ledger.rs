//! The undo ledger: every network change the parent made, with what is
//! needed to undo it, so that any exit undoes them all (OpenIKED's
//! `vroute_cleanup`).

use crate::netconf::Change;

/// How long a change lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Until vpnd exits (the tun up).
    Process,
    /// Until the session ends.
    Session,
}

/// One change made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The change made.
    pub change: Change,
    /// Whether the session's end undoes it, or only vpnd's exit.
    pub scope: Scope,
}

/// The changes made, in order.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    entries: Vec<Entry>,
}

impl Ledger {
    /// Records a change, once it is made (before the child hears of it).
    pub fn record(&mut self, change: Change, scope: Scope) {
        self.entries.push(Entry { change, scope });
    }

    /// Takes the session's changes, newest first: undo them in this order.
    pub fn take_session(&mut self) -> Vec<Entry> {
        let (session, process): (Vec<_>, Vec<_>) = self
            .entries
            .drain(..)
            .partition(|e| e.scope == Scope::Session);
        self.entries = process;
        session.into_iter().rev().collect()
    }

    /// Takes every change, newest first (vpnd is exiting).
    pub fn take_all(&mut self) -> Vec<Entry> {
        self.entries.drain(..).rev().collect()
    }

    /// The changes recorded, newest first (the order they are undone in).
    pub fn newest_first(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().rev()
    }

    /// True when nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netconf::Family;

    #[test]
    fn undo_order_is_newest_first_and_scoped() {
        let mut l = Ledger::default();
        l.record(Change::LinkUp, Scope::Process);
        l.record(Change::Forwarding(Family::V4), Scope::Session);
        let route = Change::Route("198.19.2.0/24".parse().unwrap());
        l.record(route.clone(), Scope::Session);
        let session = l.take_session();
        let changes: Vec<_> = session.iter().map(|e| e.change.clone()).collect();
        assert_eq!(changes, [route.clone(), Change::Forwarding(Family::V4)]);
        assert!(l.take_session().is_empty());
        l.record(route.clone(), Scope::Session);
        let all: Vec<_> = l.take_all().into_iter().map(|e| e.change).collect();
        assert_eq!(all, [route, Change::LinkUp]);
        assert!(l.is_empty());
    }
}
