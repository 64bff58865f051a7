//! `validate_documents` (behind `llamagate-operator validate-only`) on files a user may give
//! it: a syntax error ends the reading with a clear problem; it used to loop for ever on the
//! same error, growing its list of problems until memory ran out.

use std::{sync::mpsc, thread, time::Duration};

use llamagate_crds::manifests::validate_documents;

/// `validate_documents(text)` on a thread of its own, or a failure if it never returns.
fn validate_or_hang(text: &'static str) -> Result<usize, String> {
    let (done, result) = mpsc::channel();
    thread::spawn(move || {
        let _ = done.send(validate_documents(text).map_err(|e| e.to_string()));
    });
    result
        .recv_timeout(Duration::from_secs(30))
        .expect("validate_documents never returned")
}

#[test]
fn a_yaml_syntax_error_is_reported_once_and_the_reading_stops() {
    let text = "kind: McpServer\nmetadata: {name: a}\nspec: [\n---\nkind: McpServer\n";
    let problems = validate_or_hang(text).expect_err("a syntax error is a problem");
    assert!(
        problems.contains("document 1") && problems.contains("not valid YAML"),
        "{problems}"
    );
    assert_eq!(problems.matches("not valid YAML").count(), 1, "{problems}");
}

#[test]
fn documents_before_a_syntax_error_are_still_judged() {
    let text = "kind: McpServer\nmetadata: {name: ok}\nspec: {transport: websocket, url: \"http://x\"}\n---\n: : [\n";
    let problems = validate_or_hang(text).expect_err("both documents are wrong");
    assert!(problems.contains("document 1"), "{problems}");
    assert!(problems.contains("not valid YAML"), "{problems}");
}
