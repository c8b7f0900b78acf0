//! What a sendmmsg(2) loop makes of partial sends: the call sends what it
//! can from the first datagram on and says how many; the loop goes on with
//! the rest, and a datagram the kernel refuses is counted and skipped.

use rustix::io::Errno;

/// Sends `count` datagrams with `send(from)`, which sends as many as it can
/// of those from index `from` on and returns how many. Returns how many the
/// kernel refused.
pub fn send_all(count: usize, mut send: impl FnMut(usize) -> Result<usize, Errno>) -> u64 {
    let (mut sent, mut refused) = (0, 0);
    while sent < count {
        match send(sent) {
            Ok(0) => {
                refused += (count - sent) as u64;
                break;
            }
            Ok(n) => sent += n,
            Err(Errno::INTR) => {}
            // The first datagram of the rest failed: count it, go on.
            Err(_) => {
                refused += 1;
                sent += 1;
            }
        }
    }
    refused
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `send_all` makes of these answers, in turn: the refused count
    /// and the indexes each call started from.
    fn run(count: usize, answers: &[Result<usize, Errno>]) -> (u64, Vec<usize>) {
        let mut calls = Vec::new();
        let mut answers = answers.iter();
        let refused = send_all(count, |from| {
            calls.push(from);
            *answers.next().unwrap()
        });
        (refused, calls)
    }

    #[test]
    fn partial_sends_go_on_and_refused_datagrams_are_skipped() {
        assert_eq!(run(5, &[Ok(5)]), (0, vec![0]));
        assert_eq!(run(5, &[Ok(2), Ok(3)]), (0, vec![0, 2]));
        assert_eq!(
            run(5, &[Ok(2), Err(Errno::NOBUFS), Err(Errno::INTR), Ok(2)]),
            (1, vec![0, 2, 3, 3])
        );
        assert_eq!(run(5, &[Ok(1), Ok(0)]), (4, vec![0, 1]));
        assert_eq!(run(0, &[]), (0, vec![]));
    }
}
