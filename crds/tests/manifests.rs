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

fn manifest_like() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    let line = prop_oneof![
        Just("---\n".to_owned()),
        Just("kind: McpServer\n".to_owned()),
        Just("kind: LlamaGate\n".to_owned()),
        Just("apiVersion: llamagate.io/v1alpha1\n".to_owned()),
        "metadata: \\{name: [a-z0-9.-]{0,70}\\}\n",
        "spec: \\{transport: [a-z-]{0,16}, url: \"\\PC{0,20}\"\\}\n",
        "spec:\n  [a-zA-Z]{1,16}: \\PC{0,16}\n",
        "  healthCheck: \\{interval: [0-9a-z]{0,6}, timeout: [0-9a-z]{0,6}\\}\n",
        "  deployment: \\{image: \\PC{0,10}, port: -?[0-9]{0,6}\\}\n",
        "\\PC{0,24}\n",
    ];
    prop::collection::vec(line, 0..16).prop_map(|lines| lines.concat())
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    /// Any text: an answer (never a panic or a hang), and a refusal always names a document.
    #[test]
    fn any_manifest_text_gets_an_answer(text in manifest_like()) {
        let text: &'static str = Box::leak(text.into_boxed_str());
        if let Err(problems) = validate_or_hang(text) {
            proptest::prop_assert!(problems.contains("document"), "{}", problems);
        }
    }
}
