//! One `server/discover` exchange over a kept-alive HTTP/1.1 connection: the request is
//! written as bytes prepared once per server, and the answer's head is parsed with
//! `httparse`.
//!
//! Why not hyper here: a probe is one fixed request and a small answer, and hyper's client
//! dispatcher (a request channel, a connection task, header maps built per request) cost
//! more CPU than the round trip itself; with hundreds of servers probed every second that
//! is most of health monitoring's cost. Only plain answers are read here — a status line,
//! headers and a `Content-Length` or chunked body (`httparse` reads the chunk sizes).
//! Anything else (other transfer codings, trailers, interim answers, HTTP/1.0) is
//! `Unsupported`, and the prober sends that server's probes through `reqwest` from then on.

use bytes::Bytes;
use reqwest::{
    StatusCode,
    header::{CONTENT_LENGTH, HeaderMap},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// Most header lines an answer may have on this path.
const MAX_HEADERS: usize = 32;

/// The request bytes of a probe: request line, headers (including `Host`), body.
pub(super) fn prepare(path_and_query: &str, headers: &HeaderMap, body: &[u8]) -> Bytes {
    let mut request = Vec::with_capacity(256 + body.len());
    request.extend_from_slice(b"POST ");
    request.extend_from_slice(path_and_query.as_bytes());
    request.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in headers {
        if name == CONTENT_LENGTH {
            continue;
        }
        request.extend_from_slice(name.as_str().as_bytes());
        request.extend_from_slice(b": ");
        request.extend_from_slice(value.as_bytes());
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
    request.extend_from_slice(body);
    Bytes::from(request)
}

/// Why an exchange gave no answer.
#[derive(Debug, PartialEq)]
pub(crate) enum WireError {
    /// The connection ended before a byte of the answer: a server closing an idle
    /// connection just as the probe went out looks like this.
    ClosedBeforeAnswer,
    /// A valid answer this path does not read; `reqwest` should.
    Unsupported(&'static str),
    /// The exchange failed.
    Failed(String),
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WireError::ClosedBeforeAnswer => f.write_str("the server closed the connection"),
            WireError::Unsupported(what) => write!(f, "unsupported answer: {what}"),
            WireError::Failed(detail) => f.write_str(detail),
        }
    }
}

/// A status and body read off the connection.
#[derive(Debug)]
pub(super) struct Answer {
    pub(super) status: StatusCode,
    pub(super) body: Bytes,
    /// False when the server said it closes the connection after this answer.
    pub(super) keep_alive: bool,
}

/// A kept-alive connection to one server and the buffer its answers are read into.
pub(crate) struct Connection {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl Connection {
    pub(super) async fn open(host: &url::Host, port: u16) -> Result<Self, String> {
        let stream = match host {
            url::Host::Domain(name) => TcpStream::connect((name.as_str(), port)).await,
            url::Host::Ipv4(address) => TcpStream::connect((*address, port)).await,
            url::Host::Ipv6(address) => TcpStream::connect((*address, port)).await,
        }
        .map_err(|e| format!("connecting: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        Ok(Self {
            stream,
            buffer: Vec::with_capacity(1024),
        })
    }

    /// Send `request` and read the answer, at most `max_body` bytes of body.
    pub(super) async fn exchange(
        &mut self,
        request: &[u8],
        max_body: usize,
    ) -> Result<Answer, WireError> {
        let failed = |e: std::io::Error| WireError::Failed(e.to_string());
        self.buffer.clear();
        self.stream.write_all(request).await.map_err(failed)?;
        let max_head = 16 * 1024;
        let head = loop {
            if self.read_more().await.map_err(failed)? == 0 {
                return Err(if self.buffer.is_empty() {
                    WireError::ClosedBeforeAnswer
                } else {
                    WireError::Failed("the connection closed in the answer's head".to_owned())
                });
            }
            match parse_head(&self.buffer)? {
                Some(head) => break head,
                None if self.buffer.len() > max_head => {
                    return Err(WireError::Failed(format!(
                        "the answer's head is longer than {max_head} bytes"
                    )));
                }
                None => {}
            }
        };
        let (body, end) = match head.body {
            Body::Length(length) => {
                if length > max_body {
                    return Err(too_large(max_body));
                }
                let end = head.length + length;
                self.fill(end).await?;
                (Bytes::copy_from_slice(&self.buffer[head.length..end]), end)
            }
            Body::Chunked => self.read_chunks(head.length, max_body).await?,
        };
        if self.buffer.len() > end {
            return Err(WireError::Failed(
                "the server sent more than the answer it announced".to_owned(),
            ));
        }
        Ok(Answer {
            status: head.status,
            body,
            keep_alive: head.keep_alive,
        })
    }

    /// Read until the buffer holds at least `end` bytes.
    async fn fill(&mut self, end: usize) -> Result<(), WireError> {
        while self.buffer.len() < end {
            let read = self
                .read_more()
                .await
                .map_err(|e| WireError::Failed(e.to_string()))?;
            if read == 0 {
                return Err(WireError::Failed(
                    "the connection closed in the answer's body".to_owned(),
                ));
            }
        }
        Ok(())
    }

    /// Decode a chunked body that starts at `start`; returns it and where the answer ends.
    async fn read_chunks(
        &mut self,
        start: usize,
        max_body: usize,
    ) -> Result<(Bytes, usize), WireError> {
        let mut body = Vec::new();
        let mut at = start;
        loop {
            let (used, size) = match httparse::parse_chunk_size(&self.buffer[at..]) {
                Ok(httparse::Status::Complete(found)) => found,
                Ok(httparse::Status::Partial) => {
                    let wanted = self.buffer.len() + 1;
                    self.fill(wanted).await?;
                    continue;
                }
                Err(_) => return Err(WireError::Failed("a malformed chunk size".to_owned())),
            };
            let size = usize::try_from(size).unwrap_or(usize::MAX);
            if size > max_body.saturating_sub(body.len()) {
                return Err(too_large(max_body));
            }
            at += used;
            // The chunk's data (none for the last chunk) and the line end after it; a last
            // chunk followed by trailers instead is left to reqwest.
            self.fill(at + size + 2).await?;
            if &self.buffer[at + size..at + size + 2] != b"\r\n" {
                return Err(if size == 0 {
                    WireError::Unsupported("a chunked body with trailers")
                } else {
                    WireError::Failed("a chunk longer than announced".to_owned())
                });
            }
            body.extend_from_slice(&self.buffer[at..at + size]);
            at += size + 2;
            if size == 0 {
                return Ok((Bytes::from(body), at));
            }
        }
    }

    async fn read_more(&mut self) -> std::io::Result<usize> {
        self.buffer.reserve(1024);
        self.stream.read_buf(&mut self.buffer).await
    }
}

fn too_large(max_body: usize) -> WireError {
    WireError::Failed(format!("the answer is larger than {max_body} bytes"))
}

/// How the body of an answer is framed.
#[derive(Debug, PartialEq)]
enum Body {
    Length(usize),
    Chunked,
}

/// What the head of an answer says about the rest.
#[derive(Debug, PartialEq)]
pub(crate) struct Head {
    status: StatusCode,
    /// Bytes of the head, blank line included.
    length: usize,
    body: Body,
    keep_alive: bool,
}

/// The head of an answer once `buffer` holds all of it.
pub(crate) fn parse_head(buffer: &[u8]) -> Result<Option<Head>, WireError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let length = match response.parse(buffer) {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(WireError::Unsupported("more header lines than expected"));
        }
        Err(e) => return Err(WireError::Failed(format!("malformed HTTP answer: {e}"))),
    };
    if response.version != Some(1) {
        return Err(WireError::Unsupported("an HTTP/1.0 answer"));
    }
    let status = response
        .code
        .and_then(|code| StatusCode::from_u16(code).ok())
        .ok_or_else(|| WireError::Failed("an answer without a valid status".to_owned()))?;
    if status.is_informational() {
        return Err(WireError::Unsupported("an interim (1xx) answer"));
    }
    let mut content_length = None;
    let mut chunked = false;
    let mut keep_alive = true;
    for header in response.headers.iter() {
        if header.name.eq_ignore_ascii_case("transfer-encoding") {
            if !header.value.trim_ascii().eq_ignore_ascii_case(b"chunked") || chunked {
                return Err(WireError::Unsupported(
                    "a transfer coding other than chunked",
                ));
            }
            chunked = true;
        }
        if header.name.eq_ignore_ascii_case("content-length") {
            let value = std::str::from_utf8(header.value)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .ok_or_else(|| WireError::Failed("a malformed Content-Length".to_owned()))?;
            if content_length.is_some_and(|known| known != value) {
                return Err(WireError::Failed("conflicting Content-Length".to_owned()));
            }
            content_length = Some(value);
        }
        if header.name.eq_ignore_ascii_case("connection")
            && header
                .value
                .split(|b| *b == b',')
                .any(|token| token.trim_ascii().eq_ignore_ascii_case(b"close"))
        {
            keep_alive = false;
        }
    }
    let body = match (chunked, content_length) {
        // Chunked framing wins over a Content-Length (RFC 9112, 6.3).
        (true, _) => Body::Chunked,
        (false, Some(length)) => Body::Length(length),
        (false, None) => return Err(WireError::Unsupported("a body without a framing")),
    };
    Ok(Some(Head {
        status,
        length,
        body,
        keep_alive,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HOST, HeaderValue};

    #[test]
    fn a_request_is_prepared_once_with_its_length() {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_static("127.0.0.1:1"));
        headers.insert(CONTENT_LENGTH, HeaderValue::from_static("999"));
        let request = prepare("/mcp?a=1", &headers, b"{}");
        assert_eq!(
            &request[..],
            b"POST /mcp?a=1 HTTP/1.1\r\nhost: 127.0.0.1:1\r\ncontent-length: 2\r\n\r\n{}"
        );
    }

    #[test]
    fn heads_are_read_only_when_complete_and_plain() {
        let ok =
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nContent-Length: 2\r\n\r\n{}";
        assert_eq!(parse_head(&ok[..20]), Ok(None));
        let head = parse_head(ok).unwrap().unwrap();
        assert_eq!((head.status, head.body), (StatusCode::OK, Body::Length(2)));
        assert_eq!(head.length, ok.len() - 2);
        assert!(head.keep_alive);

        let closing =
            b"HTTP/1.1 503 Busy\r\nconnection: keep-alive, Close\r\ncontent-length: 0\r\n\r\n";
        let head = parse_head(closing).unwrap().unwrap();
        assert_eq!(head.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(!head.keep_alive);

        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(parse_head(chunked).unwrap().unwrap().body, Body::Chunked);

        for (answer, expected) in [
            (
                &b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n"[..],
                WireError::Unsupported("a transfer coding other than chunked"),
            ),
            (
                b"HTTP/1.1 200 OK\r\n\r\n",
                WireError::Unsupported("a body without a framing"),
            ),
            (
                b"HTTP/1.1 100 Continue\r\n\r\n",
                WireError::Unsupported("an interim (1xx) answer"),
            ),
            (
                b"HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n",
                WireError::Unsupported("an HTTP/1.0 answer"),
            ),
        ] {
            assert_eq!(parse_head(answer), Err(expected));
        }
        assert!(matches!(
            parse_head(b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n"),
            Err(WireError::Failed(_))
        ));
        assert!(matches!(
            parse_head(b"<html>\r\n\r\n"),
            Err(WireError::Failed(_))
        ));
    }

    /// A one-connection server that answers each request with the next of `answers`
    /// (written in two parts, to split the head), then closes.
    async fn scripted(answers: Vec<&'static [u8]>) -> (url::Host, u16) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = vec![0; 4096];
            for answer in answers {
                let _ = socket.read(&mut request).await.unwrap();
                let (first, rest) = answer.split_at(answer.len().min(10));
                socket.write_all(first).await.unwrap();
                tokio::task::yield_now().await;
                socket.write_all(rest).await.unwrap();
            }
        });
        (url::Host::parse("127.0.0.1").unwrap(), port)
    }

    #[tokio::test]
    async fn answers_are_read_over_one_connection_until_it_closes() {
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello";
        let (host, port) = scripted(vec![ok, ok]).await;
        let mut connection = Connection::open(&host, port).await.unwrap();
        for _ in 0..2 {
            let answer = connection.exchange(b"probe", 64).await.unwrap();
            assert_eq!(&answer.body[..], b"hello");
            assert!(answer.keep_alive);
        }
        assert_eq!(
            connection.exchange(b"probe", 64).await.unwrap_err(),
            WireError::ClosedBeforeAnswer
        );
    }

    #[tokio::test]
    async fn chunked_answers_are_decoded() {
        let sse = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\
            3b\r\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{}}\n\n\r\n0\r\n\r\n";
        let (host, port) = scripted(vec![sse, sse]).await;
        let mut connection = Connection::open(&host, port).await.unwrap();
        for _ in 0..2 {
            let answer = connection.exchange(b"probe", 1024).await.unwrap();
            assert_eq!(
                &answer.body[..],
                &b"event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{}}\n\n"[..]
            );
        }

        let long = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n400\r\n";
        let (host, port) = scripted(vec![long]).await;
        let mut connection = Connection::open(&host, port).await.unwrap();
        assert_eq!(
            connection.exchange(b"probe", 64).await.unwrap_err(),
            too_large(64)
        );

        let trailers = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\nx: y\r\n\r\n";
        let (host, port) = scripted(vec![trailers]).await;
        let mut connection = Connection::open(&host, port).await.unwrap();
        assert_eq!(
            connection.exchange(b"probe", 64).await.unwrap_err(),
            WireError::Unsupported("a chunked body with trailers")
        );
    }

    #[tokio::test]
    async fn oversized_overlong_and_cut_answers_fail() {
        let (host, port) = scripted(vec![b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n"]).await;
        let mut connection = Connection::open(&host, port).await.unwrap();
        let error = connection.exchange(b"probe", 64).await.unwrap_err();
        assert_eq!(
            error,
            WireError::Failed("the answer is larger than 64 bytes".to_owned())
        );

        let (host, port) = scripted(vec![b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nab"]).await;
        let mut connection = Connection::open(&host, port).await.unwrap();
        assert!(matches!(
            connection.exchange(b"probe", 64).await,
            Err(WireError::Failed(detail)) if detail.contains("more than")
        ));

        let (host, port) = scripted(vec![b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nabc"]).await;
        let mut connection = Connection::open(&host, port).await.unwrap();
        assert!(matches!(
            connection.exchange(b"probe", 64).await,
            Err(WireError::Failed(detail)) if detail.contains("closed in the answer's body")
        ));
    }
}
