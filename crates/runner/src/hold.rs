//! A server's hold on a run it drives: its id, which fences what the driver records, and its
//! lease, past which the driver and its steps record and do nothing until the lease is renewed.

use co_engine::Millis;
use tokio::sync::watch;

use crate::now_millis;

/// Who drives a run on a server, and until when that surely holds.
///
/// A server that is frozen (SIGSTOP, a long pause) or cut off past its lease may find, when it
/// goes on, that another server took the run over. Then nothing it had in flight may land: its
/// driver waits before recording or launching anything, and its steps hold their log lines back,
/// while the lease is not surely held ([`Ownership::held_now`]); the server's lease renewal then
/// either moves the lease on (everything goes on) or finds the run taken (the server stops
/// driving it: the driver and its steps are dropped, the containers left to the new owner).
/// Every progress record is also written with [`co_store::Store::record_progress_as`], which
/// refuses it in the same transaction if the run has another owner.
#[derive(Debug, Clone)]
pub struct Ownership {
    /// The owner id the store knows the server by.
    pub owner: String,
    /// The end of the lease the run was claimed with (ms since the Unix epoch).
    pub claimed_until: Millis,
    /// The end of the lease as last renewed for every run the server holds.
    pub renewed_until: watch::Receiver<Millis>,
}

impl Ownership {
    fn until(&self) -> Millis {
        self.claimed_until.max(*self.renewed_until.borrow())
    }

    /// Whether the lease surely holds now.
    pub fn held_now(&self) -> bool {
        now_millis() < self.until()
    }

    /// Wait until the lease surely holds. `false`: it never will (the server stops renewing).
    pub async fn wait_held(&mut self) -> bool {
        let mut said = false;
        loop {
            if self.held_now() {
                return true;
            }
            if !said {
                tracing::info!(
                    owner = %self.owner,
                    "the lease on a run lapsed (the server was paused or cut off); waiting for its renewal before going on"
                );
                said = true;
            }
            if self.renewed_until.changed().await.is_err() {
                return false;
            }
        }
    }
}
