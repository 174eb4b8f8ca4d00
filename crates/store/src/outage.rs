//! Riding out a database that is unavailable for a while (a PostgreSQL restart, a full disk):
//! callers that must not lose what they write try again until it is stored.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::{Result, StoreError};

/// First pause after a failed try; it doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(100);
/// Longest pause between two tries while the store is unavailable.
pub const MAX_PAUSE: Duration = Duration::from_secs(5);
/// While the store stays unavailable, the warning is repeated this often.
const REMIND_EVERY: Duration = Duration::from_secs(60);

/// Run `op` until it gives anything but [`StoreError::Unavailable`]: after each such failure,
/// wait (100 ms, doubling up to [`MAX_PAUSE`]) and try again. The first failure is logged as a
/// warning naming `doing`, repeated every minute with how long it has lasted (an outage
/// of an hour is not one line an hour ago); the recovery as information. Every other outcome is
/// returned as it is. The caller decides what may wait meanwhile (a driver launches nothing:
/// persist, then act).
pub async fn retry_while_unavailable<T, F, Fut>(doing: &str, mut op: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut pause = FIRST_PAUSE;
    let mut since: Option<Instant> = None;
    let mut said_at: Option<Instant> = None;
    loop {
        match op().await {
            Err(StoreError::Unavailable(why)) => {
                let first = *since.get_or_insert_with(Instant::now);
                match said_at {
                    None => tracing::warn!(
                        reason = %why,
                        "the run store is unavailable; {doing} waits for it and tries again"
                    ),
                    Some(t) if t.elapsed() >= REMIND_EVERY => tracing::warn!(
                        reason = %why,
                        "the run store is still unavailable after {} s; {doing} still waits for it",
                        first.elapsed().as_secs()
                    ),
                    Some(_) => {}
                }
                if said_at.is_none_or(|t| t.elapsed() >= REMIND_EVERY) {
                    said_at = Some(Instant::now());
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_PAUSE);
            }
            other => {
                if let Some(since) = since {
                    tracing::info!(
                        "the run store answers again after {:.1} s; {doing} goes on",
                        since.elapsed().as_secs_f64()
                    );
                }
                return other;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn unavailable_is_tried_again_other_errors_are_returned() {
        let tries = AtomicUsize::new(0);
        let out = retry_while_unavailable("a test", || async {
            match tries.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => Err(StoreError::Unavailable("down".into())),
                _ => Ok(7),
            }
        })
        .await;
        assert_eq!(out.ok(), Some(7));
        assert_eq!(tries.load(Ordering::SeqCst), 3);

        let out: Result<()> = retry_while_unavailable("a test", || async {
            Err(StoreError::Conflict("no".into()))
        })
        .await;
        assert!(matches!(out, Err(StoreError::Conflict(_))));
    }
}
