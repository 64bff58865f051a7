//! The "Examples" block of docs/api.md, run command by command as it is written, against a
//! `llamagate serve` with the `time` server (mcp-server-time over stdio) and the example's
//! key: every command must answer 2xx with JSON, so the documented examples cannot rot.

mod support;

use std::time::{Duration, Instant};

/// A `curl` command line, split as a POSIX shell splits words (quotes, no expansion).
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut in_word = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(word);
    }
    out
}

struct Curl {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<String>,
}

fn parse(line: &str) -> Curl {
    let mut args = words(line).into_iter();
    assert_eq!(args.next().as_deref(), Some("curl"), "{line}");
    let mut curl = Curl {
        method: String::new(),
        url: String::new(),
        headers: Vec::new(),
        body: None,
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-s" => {}
            "-X" => curl.method = args.next().expect("-X METHOD"),
            "-H" => {
                let header = args.next().expect("-H 'Name: value'");
                let (name, value) = header.split_once(':').expect("a header");
                curl.headers
                    .push((name.trim().to_owned(), value.trim().to_owned()));
            }
            "-d" => curl.body = Some(args.next().expect("-d BODY")),
            url if url.starts_with("localhost:11435") => curl.url = url.to_owned(),
            other => panic!("docs/api.md uses a curl option this test does not know: {other}"),
        }
    }
    if curl.method.is_empty() {
        curl.method = if curl.body.is_some() { "POST" } else { "GET" }.to_owned();
    }
    curl
}

fn example_commands() -> Vec<String> {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/api.md")).unwrap();
    let section = doc
        .split("## Examples")
        .nth(1)
        .expect("an Examples section");
    let block = section
        .split("```sh")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("its sh block");
    block
        .lines()
        .filter(|l| l.starts_with("curl "))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_documented_example_answers() {
    let dir = tempfile::tempdir().unwrap();
    let config = support::time_server_config(
        dir.path(),
        "auth:\n  keys:\n    - { key: lg-example-key-0001, name: example }\n",
    );
    let mut server = support::serve_process(&[
        "--config",
        config.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ]);
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let base = format!("http://{}", server.addr);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let listing: serde_json::Value = client
            .get(format!("{base}/v1/mcp/servers/time"))
            .header("X-API-Key", "lg-example-key-0001")
            .send()
            .and_then(|r| r.json())
            .unwrap_or_default();
        if listing["state"] == "healthy" {
            break;
        }
        assert!(Instant::now() < deadline, "time never healthy: {listing}");
        std::thread::sleep(Duration::from_millis(100));
    }

    let commands = example_commands();
    assert!(commands.len() >= 5, "the examples were found: {commands:?}");
    for line in &commands {
        let curl = parse(line);
        let url = curl.url.replacen("localhost:11435", &base, 1);
        let mut request = client.request(curl.method.parse().unwrap(), url);
        for (name, value) in &curl.headers {
            request = request.header(name, value);
        }
        if let Some(body) = &curl.body {
            request = request.body(body.clone());
        }
        let response = request.send().unwrap_or_else(|e| panic!("{line}: {e}"));
        let status = response.status();
        let text = response.text().unwrap();
        assert!(status.is_success(), "{line}\n→ {status}: {text}");
        let _: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{line}\n→ not JSON ({e}): {text}"));
    }
    let _ = server.child.kill();
    let _ = server.child.wait();
}

#[test]
fn the_word_splitter_follows_the_shell() {
    assert_eq!(
        words(r#"curl -H "A: b c" -d '{"x": 1}' "u?v=1""#),
        ["curl", "-H", "A: b c", "-d", r#"{"x": 1}"#, "u?v=1"]
    );
}
