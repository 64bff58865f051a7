//! The prober's side of a probe: where a server is reached and one `server/discover`
//! exchange with it.

use bytes::Bytes;
use reqwest::{
    StatusCode,
    header::{HOST, HeaderValue},
};

use super::wire::{self, Connection, WireError};
use crate::{
    config::ServerConfig,
    mcp::probe::{check_discover_answer, discover_body, discover_headers},
};

/// Largest `server/discover` answer read; a real one is well under a kilobyte.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Where and how a server is probed, prepared once.
pub(super) struct Target {
    pub(super) server: String,
    url: reqwest::Url,
    route: Route,
    headers: reqwest::header::HeaderMap,
}

enum Route {
    /// Plain HTTP with no proxy in the environment: a kept-alive HTTP/1.1 connection of
    /// the server's own and the probe's request bytes, prepared once.
    Direct {
        host: url::Host,
        port: u16,
        request: Bytes,
    },
    /// TLS, proxies, redirects, answers the direct route does not read: the prober's
    /// `reqwest` client, which handles them.
    Pooled,
}

impl Target {
    pub(super) fn new(config: &ServerConfig) -> Option<Self> {
        let url = reqwest::Url::parse(config.url.as_deref()?).ok()?;
        let headers = discover_headers(config).ok()?;
        let direct = url.scheme() == "http"
            && url.username().is_empty()
            && url.password().is_none()
            && !proxy_in_environment();
        let route = match (direct, url.host(), url.port_or_known_default()) {
            (true, Some(host), Some(port)) => {
                let mut with_host = headers.clone();
                with_host.insert(HOST, HeaderValue::from_str(url.authority()).ok()?);
                let path = &url[url::Position::BeforePath..url::Position::AfterQuery];
                Route::Direct {
                    host: host.to_owned(),
                    port,
                    request: wire::prepare(path, &with_host, &discover_body()),
                }
            }
            _ => Route::Pooled,
        };
        Some(Self {
            server: config.name.clone(),
            url,
            route,
            headers,
        })
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
pub(super) async fn exchange(
    target: &mut Target,
    connection: &mut Option<Connection>,
    pooled: &reqwest::Client,
) -> Result<(), String> {
    let direct = match &target.route {
        Route::Direct {
            host,
            port,
            request,
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
        Some(Err(error)) => return Err(error.to_string()),
        None => through_reqwest(target, pooled).await?,
    };
    if status.is_redirection() {
        // The direct route does not follow redirects (e.g. `/mcp` to `/mcp/`), and the
        // sessions' client does: probe the way the sessions reach the server.
        *connection = None;
        target.use_pooled();
        (status, body) = through_reqwest(target, pooled).await?;
    }
    if !status.is_success() {
        return Err(format!("HTTP {status}"));
    }
    check_discover_answer(&body)
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
    let mut response = pooled
        .post(target.url.clone())
        .headers(target.headers.clone())
        .body(discover_body())
        .send()
        .await
        .map_err(|e| crate::mcp::error::error_chain(&e.without_url()))?;
    let status = response.status();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(format!(
                "the answer is larger than {MAX_ANSWER_BYTES} bytes"
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status, Bytes::from(body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str) -> ServerConfig {
        serde_json::from_value(serde_json::json!({
            "name": "probe-target",
            "transport": "streamable-http",
            "url": url,
        }))
        .unwrap()
    }

    #[test]
    fn plain_http_is_probed_over_a_connection_of_its_own() {
        if proxy_in_environment() {
            return;
        }
        let target = Target::new(&config("http://127.0.0.1:8931/mcp?tenant=a")).unwrap();
        let Route::Direct {
            host,
            port,
            request,
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
            let target = Target::new(&config(url)).unwrap();
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
        let mut target = Target::new(&config(&format!("http://127.0.0.1:{port}/mcp"))).unwrap();
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
    fn after_a_redirect_the_target_goes_through_reqwest() {
        let mut target = Target::new(&config("http://127.0.0.1:8931/mcp")).unwrap();
        target.use_pooled();
        assert!(matches!(target.route, Route::Pooled));
    }
}
