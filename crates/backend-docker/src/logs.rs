//! Reading the engine's multiplexed output frames, for other backends on the same API (the
//! Swarm backend reads service logs with them): which stream a frame belongs to, and the engine's
//! timestamp in front of a frame read with `timestamps=true`.

use bollard::container::LogOutput;
use bytes::Bytes;
use co_backend::Stream;

/// The stream and bytes of one frame of an attach or logs stream (`None`: stdin).
pub fn frame(item: LogOutput) -> Option<(Stream, Bytes)> {
    crate::step::chunk(item).map(|(stream, bytes, _)| (stream, bytes))
}

/// How much of a step's first stderr line to keep for [`init_complaint`].
pub const INIT_LINE_MAX: usize = crate::step::INIT_LINE_MAX;

/// The init process's complaint (docker-init, catatonit) that it could not exec the step's
/// command, if `first` (the step's first stderr line) is one.
pub fn init_complaint(first: &[u8]) -> Option<String> {
    crate::step::init_complaint(first)
}

/// Split the engine's timestamp off a frame read with `timestamps=true`
/// (`2026-12-03T13:56:41.430261858Z text`): the time in ms since the Unix epoch, and the bytes
/// the step wrote.
pub fn split_timestamp(bytes: Bytes) -> (Option<i64>, Bytes) {
    crate::replay::split_timestamp(bytes)
}
