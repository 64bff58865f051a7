//! The prober's side of a probe: where a server is reached and one `server/discover`
//! exchange with it.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use reqwest::{
    StatusCode,
    header::{HOST, HeaderMap, HeaderValue},
};

use super::Entry;
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
    headers: HeaderMap,
}

enum Route {
    /// Plain HTTP with no proxy in the environment: a kept-alive HTTP/1.1 connection of
    /// the server's own, without a pool in between.
    Direct {
        host: url::Host,
        port: u16,
        uri: http::Uri,
    },
    /// TLS, proxies, redirects: the prober's `reqwest` client, which handles them.
    Pooled,
}

impl Target {
    pub(super) fn new(config: &ServerConfig) -> Option<Self> {
        let url = reqwest::Url::parse(config.url.as_deref()?).ok()?;
        let mut headers = discover_headers(config).ok()?;
        let direct = url.scheme() == "http"
            && url.username().is_empty()
            && url.password().is_none()
            && !proxy_in_environment();
        let route = match (direct, url.host(), url.port_or_known_default()) {
            (true, Some(host), Some(port)) => {
                headers.insert(HOST, HeaderValue::from_str(url.authority()).ok()?);
                let path = &url[url::Position::BeforePath..url::Position::AfterQuery];
                Route::Direct {
                    host: host.to_owned(),
                    port,
                    uri: path.parse().ok()?,
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

    /// From now on through `reqwest`: it follows redirects as the sessions' client does.
    fn use_pooled(&mut self) {
        self.route = Route::Pooled;
        self.headers.remove(HOST);
    }
}

fn proxy_in_environment() -> bool {
    ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|value| !value.is_empty()))
}

/// One `server/discover` POST and the check of its answer.
pub(super) async fn exchange(entry: &mut Entry, pooled: &reqwest::Client) -> Result<(), String> {
    let Entry { watch, connection } = entry;
    let target = &mut watch.target;
    let (mut status, mut body) = match &target.route {
        Route::Direct { host, port, uri } => {
            let reused = connection.as_ref().is_some_and(|open| !open.is_closed());
            match direct(connection, host, *port, uri, &target.headers).await {
                // The server may close an idle connection just as the probe goes out on
                // it: once more on a new connection, as a pool would.
                Err(_) if reused => {
                    *connection = None;
                    direct(connection, host, *port, uri, &target.headers).await?
                }
                answer => answer?,
            }
        }
        Route::Pooled => through_reqwest(target, pooled).await?,
    };
    if status.is_redirection() {
        // hyper does not follow redirects (e.g. `/mcp` to `/mcp/`), and the sessions'
        // client does: probe the way the sessions reach the server.
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
    connection: &mut Option<SendRequest<Full<Bytes>>>,
    host: &url::Host,
    port: u16,
    uri: &http::Uri,
    headers: &HeaderMap,
) -> Result<(StatusCode, Bytes), String> {
    let mut open = match connection.take() {
        Some(open) if !open.is_closed() => open,
        _ => connect(host, port).await?,
    };
    open.ready().await.map_err(|e| e.to_string())?;
    let mut request = http::Request::post(uri.clone())
        .body(Full::new(discover_body()))
        .map_err(|e| e.to_string())?;
    *request.headers_mut() = headers.clone();
    let response = open
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
        .collect()
        .await
        .map_err(|e| format!("reading the answer: {e}"))?
        .to_bytes();
    *connection = Some(open);
    Ok((status, body))
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

async fn connect(host: &url::Host, port: u16) -> Result<SendRequest<Full<Bytes>>, String> {
    let stream = match host {
        url::Host::Domain(name) => tokio::net::TcpStream::connect((name.as_str(), port)).await,
        url::Host::Ipv4(address) => tokio::net::TcpStream::connect((*address, port)).await,
        url::Host::Ipv6(address) => tokio::net::TcpStream::connect((*address, port)).await,
    }
    .map_err(|e| format!("connecting: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let (sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
    // Ends when `sender` is dropped or the server closes the connection.
    tokio::spawn(connection);
    Ok(sender)
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
        let Route::Direct { host, port, uri } = &target.route else {
            panic!("plain HTTP should go direct")
        };
        assert_eq!((host.to_string().as_str(), *port), ("127.0.0.1", 8931));
        assert_eq!(uri.to_string(), "/mcp?tenant=a");
        assert_eq!(target.headers[HOST], "127.0.0.1:8931");
        assert_eq!(target.headers["mcp-method"], crate::mcp::probe::DISCOVER);
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

    #[test]
    fn after_a_redirect_the_target_goes_through_reqwest() {
        let mut target = Target::new(&config("http://127.0.0.1:8931/mcp")).unwrap();
        target.use_pooled();
        assert!(matches!(target.route, Route::Pooled));
        assert!(
            target.headers.get(HOST).is_none(),
            "reqwest sets Host per hop"
        );
    }
}
