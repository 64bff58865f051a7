//! Every `curl` command of docs/api.md, run as it is written against a `llamagate serve`
//! with the `time` server (mcp-server-time over stdio) and a scripted model: the Examples
//! block with the example's key, the rest of the page on an open gateway as the example
//! configuration is. Each must answer 2xx with JSON, so the documented commands cannot rot.

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

/// The `curl` commands of every sh block of `text`, a command continued over lines while a
/// quote is open joined into one.
fn curl_commands(text: &str) -> Vec<String> {
    let mut commands = Vec::new();
    for block in text.split("```sh").skip(1) {
        let block = block.split("```").next().unwrap_or_default();
        let mut pending = String::new();
        for line in block.lines() {
            if pending.is_empty() && !line.starts_with("curl ") {
                continue;
            }
            if !pending.is_empty() {
                pending.push(' ');
            }
            pending.push_str(line.trim());
            let open = pending.matches('\'').count() % 2 == 1;
            if !open {
                commands.push(std::mem::take(&mut pending));
            }
        }
    }
    commands
}

fn api_doc() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/api.md")).unwrap()
}

/// The Examples section's commands (run with the example key) and the rest of the page's
/// (written for the open gateway of the example configuration).
fn documented_commands() -> (Vec<String>, Vec<String>) {
    let doc = api_doc();
    let (before, section) = doc.split_once("## Examples").expect("an Examples section");
    let (examples, after) = section.split_once("\n## ").unwrap_or((section, ""));
    let examples = curl_commands(examples);
    let mut others = curl_commands(before);
    others.extend(curl_commands(after));
    (examples, others)
}

/// A gateway with the time server, `auth` as given, and `upstream` as its LLM.
fn gateway(dir: &std::path::Path, auth: &str, upstream: &str) -> support::ServeProcess {
    let config = support::time_server_config(dir, auth);
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_llamagate"));
    command
        .args(["serve", "--config", config.to_str().unwrap()])
        .args(["--listen", "127.0.0.1:0"])
        .env("LLAMAGATE_UPSTREAM_URL", upstream)
        .env("RUST_LOG", "info");
    support::serve_command(command)
}

fn wait_healthy(client: &reqwest::blocking::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let listing: serde_json::Value = client
            .get(format!("{base}/v1/mcp/servers/time"))
            .header("X-API-Key", "lg-example-key-0001")
            .send()
            .and_then(|r| r.json())
            .unwrap_or_default();
        if listing["state"] == "healthy" {
            return;
        }
        assert!(Instant::now() < deadline, "time never healthy: {listing}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Run `line` against `base`: it must answer 2xx with JSON; the JSON.
fn run(client: &reqwest::blocking::Client, base: &str, line: &str) -> serde_json::Value {
    let curl = parse(line);
    let url = curl.url.replacen("localhost:11435", base, 1);
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
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{line}\n→ not JSON ({e}): {text}"))
}

#[test]
fn every_documented_example_answers() {
    // The chat example's model: it asks for the time in Tokyo, then answers.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let script = support::llm::Script::new(vec![
        support::llm::calls(&[(
            "mcp__time__get_current_time",
            r#"{"timezone": "Asia/Tokyo"}"#,
        )]),
        support::llm::text("It is 21:04 in Tokyo."),
    ]);
    let upstream = runtime.block_on(support::llm::start(script.clone()));
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let (examples, others) = documented_commands();
    assert!(examples.len() >= 5, "the examples were found: {examples:?}");
    assert!(others.len() >= 2, "the page's other commands: {others:?}");

    let dir = tempfile::tempdir().unwrap();
    let keyed = "auth:\n  keys:\n    - { key: lg-example-key-0001, name: example }\n";
    let mut server = gateway(dir.path(), keyed, &upstream);
    let base = format!("http://{}", server.addr);
    wait_healthy(&client, &base);
    for line in &examples {
        run(&client, &base, line);
    }
    let _ = server.child.kill();
    let _ = server.child.wait();

    let open_dir = tempfile::tempdir().unwrap();
    let mut open = gateway(open_dir.path(), "", &upstream);
    let base = format!("http://{}", open.addr);
    wait_healthy(&client, &base);
    let answers: Vec<_> = others
        .iter()
        .map(|line| run(&client, &base, line))
        .collect();
    let chat = answers
        .iter()
        .find(|a| a["object"] == "chat.completion")
        .expect("the chat example was run");
    assert_eq!(
        chat["choices"][0]["message"]["content"],
        "It is 21:04 in Tokyo."
    );
    // The model was shown the time server's tools and got the tool's result back.
    let requests = script.requests();
    assert!(
        requests[0]
            .to_string()
            .contains("mcp__time__get_current_time")
    );
    assert!(requests[1].to_string().contains("\"role\":\"tool\""));
    let _ = open.child.kill();
    let _ = open.child.wait();
}

#[test]
fn the_word_splitter_follows_the_shell() {
    assert_eq!(
        words(r#"curl -H "A: b c" -d '{"x": 1}' "u?v=1""#),
        ["curl", "-H", "A: b c", "-d", r#"{"x": 1}"#, "u?v=1"]
    );
}
