//! SSE events of a Streamable HTTP response passed on whole, each within a size limit.

use bytes::Bytes;
use futures::{StreamExt, stream::BoxStream};

/// Pass on the SSE stream event by event (each at most `limit` bytes). When an event would
/// pass the limit, it is dropped and the stream ends with an error answer to request `id`
/// in its place: the call fails as too large, and the session lives on.
pub(crate) fn limit_events(
    bytes: impl futures::Stream<Item = reqwest::Result<Bytes>> + Send + 'static,
    limit: usize,
    id: serde_json::Value,
) -> BoxStream<'static, Result<Bytes, std::io::Error>> {
    let mut events = EventLimiter::default();
    let mut over = false;
    bytes
        .map(Some)
        .chain(futures::stream::once(async { None }))
        .filter_map(move |chunk| {
            let item = if over {
                None
            } else {
                match chunk {
                    Some(Ok(chunk)) => match events.feed(&chunk, limit) {
                        Ok(complete) if complete.is_empty() => None,
                        Ok(complete) => Some(Ok(complete)),
                        Err(complete) => {
                            // The events completed before the oversized one still count
                            // (one may be the answer itself), then the error answer.
                            over = true;
                            let answer = super::too_large_response(id.clone(), limit);
                            let mut last = complete.to_vec();
                            last.extend_from_slice(
                                format!("event: message\ndata: {answer}\n\n").as_bytes(),
                            );
                            Some(Ok(Bytes::from(last)))
                        }
                    },
                    Some(Err(e)) => Some(Err(std::io::Error::other(e))),
                    // The end: whatever is left is an event without its blank line.
                    None => Some(Ok(events.rest()))
                        .filter(|rest| rest.as_ref().is_ok_and(|r| !r.is_empty())),
                }
            };
            std::future::ready(item)
        })
        .boxed()
}

/// Holds the SSE event under way until its blank line, so that only whole events pass.
#[derive(Default)]
pub(crate) struct EventLimiter {
    pending: Vec<u8>,
    newlines: u8,
}

impl EventLimiter {
    /// Take `chunk`; the events it completed, or (as an error) those completed before the
    /// event under way passed `limit` bytes.
    pub(crate) fn feed(&mut self, chunk: &[u8], limit: usize) -> Result<Bytes, Bytes> {
        let mut complete = 0;
        for byte in chunk {
            self.pending.push(*byte);
            match byte {
                b'\r' => {}
                b'\n' => {
                    self.newlines += 1;
                    if self.newlines >= 2 {
                        self.newlines = 0;
                        complete = self.pending.len();
                    }
                }
                _ => self.newlines = 0,
            }
            if self.pending.len() - complete > limit {
                return Err(self.take(complete));
            }
        }
        Ok(self.take(complete))
    }

    fn take(&mut self, end: usize) -> Bytes {
        Bytes::from(self.pending.drain(..end).collect::<Vec<u8>>())
    }

    pub(crate) fn rest(&mut self) -> Bytes {
        Bytes::from(std::mem::take(&mut self.pending))
    }
}
