//! Reading an HTTP body with a bound: the client's answers from MCP servers and the
//! gateway's from its LLM upstream are never buffered past their limit.

/// Why a bounded read of an HTTP body stopped.
pub enum BodyError {
    /// The body is longer than the limit (announced, or found while reading).
    TooLarge,
    /// Reading failed.
    Read(reqwest::Error),
}

/// The whole body of `response`, refusing more than `limit` bytes — at once when the server
/// announces a longer one, without buffering past the limit otherwise.
pub async fn read_bounded(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<bytes::Bytes, BodyError> {
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Read)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.into())
}
