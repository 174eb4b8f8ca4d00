//! The statuses of runs and steps, shared by the engine, the store, the runner, the server and
//! the CLI.
//!
//! Each status is one word (SPEC §5: `succeeded`, `failed`, …), the same in every JSON document
//! (the run report, the API) and in the database; [`RunStatus`] and [`StepStatus`] turn the words
//! into values once, where they enter (a database row, an API answer, a flag). Each enum is
//! declared by one list of `Variant = "word" (finished|live)`: adding a status is one line there,
//! and the compiler then points at every `match` that has to decide about it.

use std::fmt;
use std::str::FromStr;

/// A word that is not a status of its kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} status {word:?} (one of: {known})")]
pub struct UnknownStatus {
    /// `run` or `step`.
    pub kind: &'static str,
    pub word: String,
    /// The words of that kind, comma-separated.
    pub known: String,
}

macro_rules! statuses {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($kind:literal) {
            $( $(#[$variant_meta:meta])* $variant:ident = $word:literal ($state:ident), )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$variant_meta])* $variant, )*
        }

        impl $name {
            /// Every status of this kind, in order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The status's word (`succeeded`).
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $word, )*
                }
            }

            /// Whether it is over: a finished status never changes again.
            pub fn is_finished(self) -> bool {
                match self {
                    $( $name::$variant => statuses!(@finished $state), )*
                }
            }
        }

        impl FromStr for $name {
            type Err = UnknownStatus;

            fn from_str(word: &str) -> Result<$name, UnknownStatus> {
                match word {
                    $( $word => Ok($name::$variant), )*
                    _ => Err(UnknownStatus {
                        kind: $kind,
                        word: word.to_string(),
                        known: $name::ALL
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                    }),
                }
            }
        }

        impl fmt::Display for $name {
            /// The word, padded like a `str` (`{:<9}` works in tables).
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<$name, D::Error> {
                let word = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                word.parse().map_err(serde::de::Error::custom)
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
                ObjectBuilder::new()
                    .schema_type(SchemaType::new(Type::String))
                    .enum_values(Some($name::ALL.iter().map(|s| s.as_str())))
                    .into()
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {}
    };
    (@finished finished) => { true };
    (@finished live) => { false };
}

statuses! {
    /// Where a run is. A run is created `queued` (on a server) or `running` (a local run) and
    /// ends `succeeded`, `failed` or `cancelled` exactly once.
    pub enum RunStatus ("run") {
        /// Waiting for a server to claim it.
        Queued = "queued" (live),
        Running = "running" (live),
        Succeeded = "succeeded" (finished),
        Failed = "failed" (finished),
        Cancelled = "cancelled" (finished),
    }
}

statuses! {
    /// Where a step (or one attempt of it) is. `pending`, `waiting` and `running` only while
    /// its run is live.
    #[derive(Default)]
    pub enum StepStatus ("step") {
        /// Waiting for what it depends on.
        #[default]
        Pending = "pending" (live),
        /// Failed an attempt; waiting for the backoff before the next one.
        Waiting = "waiting" (live),
        Running = "running" (live),
        Succeeded = "succeeded" (finished),
        Failed = "failed" (finished),
        /// Its condition said no, or what it needs did not succeed.
        Skipped = "skipped" (finished),
        Cancelled = "cancelled" (finished),
        /// Not run: a resumed run took its result from an earlier run (`reused_from`).
        Reused = "reused" (finished),
    }
}

impl StepStatus {
    /// Whether the step's outputs are there to use: it succeeded, in this run or in the earlier
    /// run it was reused from.
    pub fn is_success(self) -> bool {
        matches!(self, StepStatus::Succeeded | StepStatus::Reused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_is_its_word_in_json_and_back() {
        for status in RunStatus::ALL {
            let json = serde_json::to_value(status).unwrap();
            assert_eq!(json, serde_json::json!(status.as_str()));
            assert_eq!(serde_json::from_value::<RunStatus>(json).unwrap(), *status);
            assert_eq!(status.as_str().parse::<RunStatus>().unwrap(), *status);
            assert_eq!(status.to_string(), status.as_str());
            assert_eq!(
                format!("{status:<10}|"),
                format!("{:<10}|", status.as_str())
            );
        }
        for status in StepStatus::ALL {
            let json = serde_json::to_value(status).unwrap();
            assert_eq!(json, serde_json::json!(status.as_str()));
            assert_eq!(serde_json::from_value::<StepStatus>(json).unwrap(), *status);
            assert_eq!(status.as_str().parse::<StepStatus>().unwrap(), *status);
        }
    }

    #[test]
    fn the_finished_ones_are_the_spec_outcomes() {
        let finished = |all: &[&'static str]| all.to_vec();
        assert_eq!(
            RunStatus::ALL
                .iter()
                .filter(|s| s.is_finished())
                .map(|s| s.as_str())
                .collect::<Vec<_>>(),
            finished(&["succeeded", "failed", "cancelled"])
        );
        assert_eq!(
            StepStatus::ALL
                .iter()
                .filter(|s| s.is_finished())
                .map(|s| s.as_str())
                .collect::<Vec<_>>(),
            finished(&["succeeded", "failed", "skipped", "cancelled", "reused"])
        );
        let success: Vec<&str> = StepStatus::ALL
            .iter()
            .filter(|s| s.is_success())
            .map(|s| s.as_str())
            .collect();
        assert_eq!(success, ["succeeded", "reused"]);
    }

    #[test]
    fn an_unknown_word_is_an_error_that_lists_the_words() {
        let err = "done".parse::<RunStatus>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown run status \"done\" (one of: queued, running, succeeded, failed, cancelled)"
        );
        let err = serde_json::from_str::<StepStatus>("\"Succeeded\"").unwrap_err();
        assert!(err.to_string().contains("unknown step status"), "{err}");
    }
}
