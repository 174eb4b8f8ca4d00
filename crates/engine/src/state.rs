//! Step and run states.

use indexmap::IndexMap;
use serde_json::Value;

use crate::Millis;

pub use co_status::{RunStatus, StepStatus};

/// One step's state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepState {
    pub status: StepStatus,
    /// The current (or last) attempt, 1-based; 0 before the first.
    pub attempt: u32,
    pub exit_code: Option<i64>,
    /// Typed outputs of the last attempt.
    pub outputs: IndexMap<String, Value>,
    /// The artifacts the last attempt kept, by name (`actions.NAME.artifacts.ART`).
    pub artifacts: IndexMap<String, crate::KeptArtifact>,
    /// The inputs of its last launch, in the order declared, as they may be shown: the value of a
    /// `secret`-typed input is [`co_protocol::MASK`]. Other values may still contain a secret
    /// (mask them with the run's masker before showing them). Empty before the first launch and
    /// for seed-format jobs (their `environments` are not inputs).
    pub inputs: IndexMap<String, Value>,
    /// Why it failed (or was cancelled), in words.
    pub error: Option<String>,
    pub started_at: Option<Millis>,
    /// When the current attempt's container started ([`crate::Input::Started`]); `None` while
    /// it is being launched (or waits for a free slot). Its timeout counts from here.
    pub attempt_started_at: Option<Millis>,
    pub finished_at: Option<Millis>,
    /// While `waiting` for a retry: the backoff before the next attempt starts (0: at once).
    pub retry_in: Option<Millis>,
    /// It was started after a cancel request (its `if:` asked for it): only a second cancel stops it.
    pub(crate) started_after_cancel: bool,
}
