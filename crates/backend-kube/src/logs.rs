//! A step's output: `GET pods/{name}/log?container=step&follow=true`.
//!
//! A followed read starts at the beginning of the container's log and, while the container runs,
//! goes on with what it writes; it ends once the container has exited and everything was sent.
//! Kubernetes merges stdout and stderr into that one log, so every byte is passed on as stdout.
//!
//! If a followed read ends early (the connection broke while the container still runs), it is
//! opened again from the beginning and the bytes already passed on are skipped: byte counting is
//! exact, unlike `sinceTime`, which the API takes with one-second resolution (lines written within
//! the same second would be doubled or lost). The same mechanism gives `reattach` the whole log
//! from its start with nothing lost or doubled: one followed read from the beginning is the
//! replay and the live part at once, with no seam between them.

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{AsyncBufReadExt, FutureExt, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, LogParams};

use crate::spec::CONTAINER;

pub(crate) type LogStream = BoxStream<'static, std::io::Result<Bytes>>;

/// Open a followed read of the Pod's log from its beginning.
pub(crate) fn open(api: Api<Pod>, name: String) -> BoxFuture<'static, kube::Result<LogStream>> {
    async move {
        let params = LogParams {
            container: Some(CONTAINER.to_string()),
            follow: true,
            ..LogParams::default()
        };
        let reader = Box::pin(api.log_stream(&name, &params).await?);
        let stream = futures::stream::unfold(Some(reader), |reader| async move {
            let mut reader = reader?;
            let chunk = match reader.fill_buf().await {
                Ok([]) => return None,
                Ok(buf) => Bytes::copy_from_slice(buf),
                // The error ends the stream.
                Err(e) => return Some((Err(e), None)),
            };
            reader.consume_unpin(chunk.len());
            Some((Ok(chunk), Some(reader)))
        });
        Ok(stream.boxed())
    }
    .boxed()
}

/// Drops the first `skip` bytes of what it is given (the part of a re-opened log that was
/// passed on already).
#[derive(Debug, Default)]
pub(crate) struct Skip {
    pub remaining: u64,
}

impl Skip {
    /// What is left of `chunk` after skipping.
    pub fn apply<'a>(&mut self, chunk: &'a [u8]) -> &'a [u8] {
        let len = u64::try_from(chunk.len()).unwrap_or(u64::MAX);
        if self.remaining >= len {
            self.remaining -= len;
            return &[];
        }
        let at = usize::try_from(self.remaining).unwrap_or(0);
        self.remaining = 0;
        &chunk[at..]
    }
}

#[cfg(test)]
mod tests {
    use super::Skip;

    #[test]
    fn skip_counts_bytes_across_chunks() {
        let mut s = Skip { remaining: 5 };
        assert_eq!(s.apply(b"abc"), b"");
        assert_eq!(s.apply(b"defgh"), b"fgh");
        assert_eq!(s.apply(b"ij"), b"ij");
        let mut none = Skip::default();
        assert_eq!(none.apply(b"x"), b"x");
    }
}
