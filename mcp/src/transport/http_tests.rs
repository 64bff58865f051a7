//! Tests of `http.rs`: the recording POST against a local server, and SSE event limits.

use super::*;
use bytes::Bytes;

/// A server whose answer to a POST is chosen by its `x-answer` header: a bare HTTP/1.1
/// responder on a loopback socket, one request per connection.
async fn answering_server() -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const JSON: &str = "application/json";
    fn answer(request: &str) -> (u16, &'static str, &'static str) {
        let chosen = request.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("x-answer").then(|| value.trim())
        });
        match chosen {
            Some("result") => (
                200,
                JSON,
                r#"{"jsonrpc":"2.0","id":5,"result":{"content":[],"vendor":1}}"#,
            ),
            Some("accepted") => (202, "", ""),
            Some("gone") => (404, "", ""),
            Some("rpc-error") => (
                400,
                JSON,
                r#"{"jsonrpc":"2.0","id":5,"error":{"code":-32602,"message":"bad"}}"#,
            ),
            Some("other-json") => (500, JSON, r#"{"detail":"boom"}"#),
            _ => (200, "text/plain", "plain text"),
        }
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                // Headers, then as much body as Content-Length announces.
                loop {
                    let Ok(read) = socket.read(&mut buffer).await else {
                        return;
                    };
                    if read == 0 {
                        return;
                    }
                    request.extend_from_slice(&buffer[..read]);
                    let text = String::from_utf8_lossy(&request);
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length = text[..end]
                            .lines()
                            .find_map(|l| {
                                let (n, v) = l.split_once(':')?;
                                n.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse::<usize>().ok())?
                            })
                            .unwrap_or(0);
                        if request.len() >= end + 4 + length {
                            break;
                        }
                    }
                }
                let (status, content_type, body) = answer(&String::from_utf8_lossy(&request));
                let mut response = format!(
                    "HTTP/1.1 {status} X\r\nconnection: close\r\ncontent-length: {}\r\n",
                    body.len()
                );
                if !content_type.is_empty() {
                    response.push_str(&format!("content-type: {content_type}\r\n"));
                }
                response.push_str("\r\n");
                response.push_str(body);
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    format!("http://{address}/mcp")
}

#[tokio::test]
async fn own_posts_answer_as_rmcps_would_and_record_results() {
    let url: Arc<str> = Arc::from(answering_server().await);
    let raw = RawResults::new(1024 * 1024);
    let seen = SessionIdSeen::default();
    let client = RecordingClient::new(
        reqwest::Client::new(),
        raw.clone(),
        seen.clone(),
        ToolSchemas::default(),
    );
    let call: ClientJsonRpcMessage = serde_json::from_value(serde_json::json!({
        "jsonrpc": "2.0", "id": 5, "method": "tools/call",
        "params": {"name": "echo", "arguments": {}},
    }))
    .unwrap();
    let post = |answer: &'static str, session: Option<&str>| {
        let mut headers = HashMap::new();
        headers.insert(
            HeaderName::from_static("x-answer"),
            HeaderValue::from_static(answer),
        );
        client.post_message_with_response_limits(
            url.clone(),
            call.clone(),
            session.map(Arc::from),
            None,
            headers,
            StreamableHttpResponseLimits::default(),
        )
    };

    let answer = post("result", Some("s-1")).await.unwrap();
    assert!(
        matches!(answer, StreamableHttpPostResponse::Json(..)),
        "{answer:?}"
    );
    assert_eq!(
        raw.take(&rmcp::model::RequestId::Number(5)).unwrap()["vendor"],
        1
    );
    assert_eq!(seen.get().as_deref(), Some("s-1"));

    assert!(matches!(
        post("accepted", None).await.unwrap(),
        StreamableHttpPostResponse::Accepted
    ));
    assert!(matches!(
        post("gone", Some("s-1")).await.unwrap_err(),
        Error::SessionExpired
    ));
    let StreamableHttpPostResponse::Json(ServerJsonRpcMessage::Error(error), _) =
        post("rpc-error", None).await.unwrap()
    else {
        panic!("a JSON-RPC error answer")
    };
    assert_eq!(error.error.message, "bad");
    assert_eq!(
        raw.take(&rmcp::model::RequestId::Number(5)),
        None,
        "errors are not results"
    );
    let other = post("other-json", None).await.unwrap_err().to_string();
    assert!(other.contains("HTTP 500"), "{other}");
    assert!(matches!(
        post("plain", None).await.unwrap_err(),
        Error::UnexpectedContentType(_)
    ));
}

#[test]
fn only_whole_events_pass_across_chunks() {
    let mut events = EventLimiter::default();
    assert_eq!(&events.feed(b"data: 12345", 64).unwrap()[..], b"");
    assert_eq!(&events.feed(b"678\n\r", 64).unwrap()[..], b"");
    // The blank line ends the event, even split across chunks and with CRLF.
    assert_eq!(
        &events.feed(b"\ndata: x", 64).unwrap()[..],
        b"data: 12345678\n\r\n"
    );
    assert_eq!(&events.feed(b"\n\n", 64).unwrap()[..], b"data: x\n\n");
    assert_eq!(&events.rest()[..], b"");
}

#[test]
fn an_event_past_the_limit_stops_the_stream() {
    let mut events = EventLimiter::default();
    assert!(events.feed(b"data: ok\n\n", 10).is_ok());
    assert!(events.feed(b"data: far too long", 10).is_err());
    // Events completed in the same chunk before the oversized one are kept.
    let mut events = EventLimiter::default();
    assert_eq!(
        &events
            .feed(b"data: 1\n\ndata: far too long", 10)
            .unwrap_err()[..],
        b"data: 1\n\n"
    );
}

#[tokio::test]
async fn an_oversized_event_becomes_an_error_answer_to_the_request() {
    let chunks: Vec<reqwest::Result<Bytes>> = vec![
        Ok(Bytes::from_static(b"event: message\ndata: {\"a\":1}\n\n")),
        Ok(Bytes::from_static(
            b"data: {\"b\":2}\n\ndata: 0123456789012345678901234567890123456789",
        )),
        Ok(Bytes::from_static(b"never read\n\n")),
    ];
    let passed: Vec<_> = limit_events(futures::stream::iter(chunks), 32, 7.into())
        .collect()
        .await;
    assert_eq!(passed.len(), 2, "{passed:?}");
    assert_eq!(
        passed[0].as_ref().unwrap(),
        &Bytes::from_static(b"event: message\ndata: {\"a\":1}\n\n")
    );
    let answer = String::from_utf8_lossy(passed[1].as_ref().unwrap());
    assert!(answer.starts_with("data: {\"b\":2}\n\n"), "{answer}");
    assert!(answer.contains(r#""id":7"#), "{answer}");
    assert!(answer.contains("-32090"), "{answer}");
}
