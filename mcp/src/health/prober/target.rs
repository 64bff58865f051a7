//! The prober's side of a probe: where a server is reached and one probe exchange with it
//! (`server/discover` for stateless servers, `ping` on a legacy server's session).

use std::sync::Arc;

use bytes::Bytes;
use reqwest::{
    StatusCode,
    header::{HOST, HeaderMap, HeaderValue},
};

use super::wire::{self, Connection, WireError};
use crate::{
    description::RemoteEndpoint,
    health::probe::{
        check_discover_answer, check_ping_answer, discover_body, discover_headers, ping_body,
        ping_headers,
    },
    transport::{BodyError, read_bounded},
};

use crate::health::probe::MAX_PROBE_ANSWER_BYTES as MAX_ANSWER_BYTES;

/// Where and how a server is probed, prepared once (and again when a legacy server's
/// session changes).
pub(super) struct Target {
    pub(super) server: String,
    url: reqwest::Url,
    route: Route,
    headers: HeaderMap,
    method: Method,
}

/// What a probe asks.
enum Method {
    /// `server/discover`: stateless servers.
    Discover,
    /// `ping` on a legacy session; `None` until the prober has seen one.
    Ping { session: Option<PingSession> },
}

/// The legacy session a ping goes to.
#[derive(PartialEq)]
struct PingSession {
    /// `Mcp-Session-Id`, when the server gave one (it need not).
    id: Option<Arc<str>>,
    protocol_version: String,
}

enum Route {
    /// Plain HTTP with no proxy in the environment: a kept-alive HTTP/1.1 connection of
    /// the server's own and the probe's request bytes, prepared once.
    Direct {
        host: url::Host,
        port: u16,
        path: String,
        request: Bytes,
    },
    /// TLS, proxies, redirects, answers the direct route does not read: the prober's
    /// `reqwest` client, which handles them.
    Pooled,
}

impl Target {
    /// A target for a stateless server (`stateless`) or a legacy one.
    pub(super) fn new(server: &str, remote: &RemoteEndpoint, stateless: bool) -> Option<Self> {
        let url = remote.url().clone();
        let (headers, method) = if stateless {
            (discover_headers(server, remote).ok()?, Method::Discover)
        } else {
            (
                ping_headers(server, remote).ok()?,
                Method::Ping { session: None },
            )
        };
        let direct = url.scheme() == "http"
            && url.username().is_empty()
            && url.password().is_none()
            && !proxy_in_environment();
        let route = match (direct, url.host(), url.port_or_known_default()) {
            (true, Some(host), Some(port)) => Route::Direct {
                host: host.to_owned(),
                port,
                path: url[url::Position::BeforePath..url::Position::AfterQuery].to_owned(),
                request: Bytes::new(),
            },
            _ => Route::Pooled,
        };
        let mut target = Self {
            server: server.to_owned(),
            url,
            route,
            headers,
            method,
        };
        target.prepare()?;
        Some(target)
    }

    /// True when probes need a legacy session's id.
    pub(super) fn needs_session(&self) -> bool {
        matches!(self.method, Method::Ping { .. })
    }

    /// Ping on the session with `id` (if the server gave it one) and `version` from now on.
    pub(super) fn use_session(&mut self, id: Option<Arc<str>>, version: &str) {
        let wanted = PingSession {
            id,
            protocol_version: version.to_owned(),
        };
        if let Method::Ping { session } = &mut self.method
            && session.as_ref() != Some(&wanted)
        {
            *session = Some(wanted);
            // Only header values that could not be sent at all make this fail; the
            // sessions' own requests would fail the same way.
            let _ = self.prepare();
        }
    }

    /// The headers of a probe: the server's, and a legacy session's.
    fn probe_headers(&self) -> Option<HeaderMap> {
        let mut headers = self.headers.clone();
        if let Method::Ping {
            session: Some(session),
        } = &self.method
        {
            if let Some(id) = &session.id {
                headers.insert("mcp-session-id", HeaderValue::from_str(id).ok()?);
            }
            headers.insert(
                "mcp-protocol-version",
                HeaderValue::from_str(&session.protocol_version).ok()?,
            );
        }
        Some(headers)
    }

    /// The probe's method, for errors.
    pub(super) fn method_name(&self) -> &'static str {
        match self.method {
            Method::Discover => crate::health::probe::DISCOVER,
            Method::Ping { .. } => "ping",
        }
    }

    fn body(&self) -> Bytes {
        match self.method {
            Method::Discover => discover_body(),
            Method::Ping { .. } => ping_body(),
        }
    }

    /// Prepare the direct route's request bytes.
    fn prepare(&mut self) -> Option<()> {
        let mut headers = self.probe_headers()?;
        let body = self.body();
        if let Route::Direct { path, request, .. } = &mut self.route {
            headers.insert(HOST, HeaderValue::from_str(self.url.authority()).ok()?);
            *request = wire::prepare(path, &headers, &body);
        }
        Some(())
    }

    fn check(&self, body: &[u8]) -> Result<(), String> {
        match self.method {
            Method::Discover => check_discover_answer(body),
            Method::Ping { .. } => check_ping_answer(body),
        }
    }

    /// From now on through `reqwest`.
    fn use_pooled(&mut self) {
        self.route = Route::Pooled;
    }
}

fn proxy_in_environment() -> bool {
    ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|value| !value.is_empty()))
}

/// One `server/discover` POST and the check of its answer.
/// Why a probe gave no proof of life.
#[derive(Debug)]
pub(super) enum ProbeError {
    /// The server did not answer as it should.
    Failed(String),
    /// A legacy server no longer knows the session: the server is up, the session must be
    /// replaced.
    SessionExpired,
}

impl From<String> for ProbeError {
    fn from(detail: String) -> Self {
        ProbeError::Failed(detail)
    }
}

pub(super) async fn exchange(
    target: &mut Target,
    connection: &mut Option<Connection>,
    pooled: &reqwest::Client,
) -> Result<(), ProbeError> {
    let direct = match &target.route {
        Route::Direct {
            host,
            port,
            request,
            ..
        } => {
            let reused = connection.is_some();
            match direct(connection, host, *port, request).await {
                // The server may close an idle connection just as the probe goes out on
                // it: once more on a new connection, as a pool would.
                Err(WireError::ClosedBeforeAnswer | WireError::Failed(_)) if reused => {
                    Some(direct(connection, host, *port, request).await)
                }
                answer => Some(answer),
            }
        }
        Route::Pooled => None,
    };
    let (mut status, mut body) = match direct {
        Some(Ok(answer)) => answer,
        Some(Err(WireError::Unsupported(_))) => {
            target.use_pooled();
            through_reqwest(target, pooled).await?
        }
        Some(Err(error)) => return Err(error.to_string().into()),
        None => through_reqwest(target, pooled).await?,
    };
    if status.is_redirection() {
        // The direct route does not follow redirects (e.g. `/mcp` to `/mcp/`), and the
        // sessions' client does: probe the way the sessions reach the server.
        *connection = None;
        target.use_pooled();
        (status, body) = through_reqwest(target, pooled).await?;
    }
    if status == StatusCode::NOT_FOUND && target.needs_session() {
        return Err(ProbeError::SessionExpired);
    }
    if !status.is_success() {
        return Err(format!("HTTP {status}").into());
    }
    Ok(target.check(&body)?)
}

async fn direct(
    connection: &mut Option<Connection>,
    host: &url::Host,
    port: u16,
    request: &[u8],
) -> Result<(StatusCode, Bytes), WireError> {
    let mut open = match connection.take() {
        Some(open) => open,
        None => Connection::open(host, port)
            .await
            .map_err(WireError::Failed)?,
    };
    let answer = open.exchange(request, MAX_ANSWER_BYTES).await?;
    if answer.keep_alive {
        *connection = Some(open);
    }
    Ok((answer.status, answer.body))
}

async fn through_reqwest(
    target: &Target,
    pooled: &reqwest::Client,
) -> Result<(StatusCode, Bytes), String> {
    let headers = target
        .probe_headers()
        .ok_or("a session id a header cannot carry")?;
    let response = pooled
        .post(target.url.clone())
        .headers(headers)
        .body(target.body())
        .send()
        .await
        .map_err(|e| crate::error::error_chain(&e.without_url()))?;
    let status = response.status();
    let body = read_bounded(response, MAX_ANSWER_BYTES)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge => format!("the answer is larger than {MAX_ANSWER_BYTES} bytes"),
            BodyError::Read(e) => crate::error::error_chain(&e.without_url()),
        })?;
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str) -> RemoteEndpoint {
        RemoteEndpoint::new(crate::RemoteTransport::StreamableHttp, url).unwrap()
    }

    #[test]
    fn plain_http_is_probed_over_a_connection_of_its_own() {
        if proxy_in_environment() {
            return;
        }
        let target = Target::new(
            "probe-target",
            &config("http://127.0.0.1:8931/mcp?tenant=a"),
            true,
        )
        .unwrap();
        let Route::Direct {
            host,
            port,
            request,
            ..
        } = &target.route
        else {
            panic!("plain HTTP should go direct")
        };
        assert_eq!((host.to_string().as_str(), *port), ("127.0.0.1", 8931));
        let request = String::from_utf8_lossy(request);
        assert!(
            request.starts_with("POST /mcp?tenant=a HTTP/1.1\r\n"),
            "{request}"
        );
        assert!(
            request.contains("\r\nhost: 127.0.0.1:8931\r\n"),
            "{request}"
        );
        assert!(request.contains("\r\nmcp-method: server/discover\r\n"));
        assert!(request.ends_with(&*String::from_utf8_lossy(&discover_body())));
        assert!(
            target.headers.get(HOST).is_none(),
            "reqwest sets Host per hop"
        );
    }

    #[test]
    fn tls_and_credentials_in_the_url_go_through_reqwest() {
        for url in [
            "https://mcp.example.com/mcp",
            "http://user:pw@127.0.0.1:1/mcp",
        ] {
            let target = Target::new("probe-target", &config(url), true).unwrap();
            assert!(matches!(target.route, Route::Pooled), "{url}");
        }
    }

    #[tokio::test]
    async fn an_answer_the_direct_route_does_not_read_goes_through_reqwest() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            // Every request, on every connection, answered with a chunked body and trailers.
            loop {
                let (mut socket, _) = listener.accept().await.unwrap();
                tokio::spawn(async move {
                    let mut request = vec![0; 8192];
                    while socket.read(&mut request).await.is_ok_and(|n| n > 0) {
                        let body = r#"{"jsonrpc":"2.0","id":0,"result":{"supportedVersions":["2026-07-28"]}}"#;
                        let answer = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\nx-trailer: 1\r\n\r\n",
                            body.len()
                        );
                        if socket.write_all(answer.as_bytes()).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        let mut target = Target::new(
            "probe-target",
            &config(&format!("http://127.0.0.1:{port}/mcp")),
            true,
        )
        .unwrap();
        if !matches!(target.route, Route::Direct { .. }) {
            return; // a proxy in the environment
        }
        let pooled = reqwest::Client::new();
        let mut connection = None;
        for _ in 0..2 {
            exchange(&mut target, &mut connection, &pooled)
                .await
                .unwrap();
            assert!(matches!(target.route, Route::Pooled));
        }
    }

    #[test]
    fn a_legacy_target_pings_on_the_session_it_was_given() {
        if proxy_in_environment() {
            return;
        }
        let mut target =
            Target::new("probe-target", &config("http://127.0.0.1:8931/mcp"), false).unwrap();
        assert!(target.needs_session());
        target.use_session(Some(Arc::from("s-1")), "2025-11-25");
        let Route::Direct { request, .. } = &target.route else {
            panic!("plain HTTP should go direct")
        };
        let request = String::from_utf8_lossy(request).into_owned();
        assert!(request.contains("\r\nmcp-session-id: s-1\r\n"), "{request}");
        assert!(request.contains("\r\nmcp-protocol-version: 2025-11-25\r\n"));
        assert!(!request.contains("mcp-method"), "{request}");
        assert!(request.ends_with(&*String::from_utf8_lossy(&ping_body())));
        target.use_session(Some(Arc::from("s-2")), "2025-11-25");
        let Route::Direct { request, .. } = &target.route else {
            panic!()
        };
        assert!(String::from_utf8_lossy(request).contains("mcp-session-id: s-2\r\n"));
        // A server that gave no session id is pinged without one.
        target.use_session(None, "2025-11-25");
        let Route::Direct { request, .. } = &target.route else {
            panic!()
        };
        let request = String::from_utf8_lossy(request);
        assert!(!request.contains("mcp-session-id"), "{request}");
        assert!(request.contains("mcp-protocol-version: 2025-11-25\r\n"));
    }

    #[test]
    fn after_a_redirect_the_target_goes_through_reqwest() {
        let mut target =
            Target::new("probe-target", &config("http://127.0.0.1:8931/mcp"), true).unwrap();
        target.use_pooled();
        assert!(matches!(target.route, Route::Pooled));
    }
}
