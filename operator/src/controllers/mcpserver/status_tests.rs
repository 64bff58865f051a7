use std::time::Duration;

use llamagate_mcp::{ProbeFailure, ProbeFindings};

use super::*;

const URL: &str = "http://127.0.0.1:9/mcp";

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + seconds).unwrap()
}

fn settings() -> Settings {
    Settings {
        generation: Some(1),
        failure_threshold: 3,
        managed: false,
        timing_refresh: Settings::timing_refresh_for(Duration::from_secs(30)),
    }
}

fn healthy(tools: usize, latency_ms: u64) -> Observation {
    Observation::Probed {
        url: URL.to_owned(),
        report: Box::new(ProbeReport {
            findings: Some(ProbeFindings {
                protocol_version: "2025-11-25".to_owned(),
                server_name: Some("everything".to_owned()),
                server_version: Some("1.0".to_owned()),
                capabilities: [("tools".to_owned(), true)].into(),
                latency: Some(Duration::from_millis(latency_ms)),
                tool_count: Some(tools),
                resource_count: Some(7),
                prompt_count: Some(2),
                ..ProbeFindings::default()
            }),
            failure: None,
            elapsed: Duration::from_millis(latency_ms),
        }),
    }
}

fn refused() -> Observation {
    Observation::Probed {
        url: URL.to_owned(),
        report: Box::new(ProbeReport {
            findings: None,
            failure: Some(ProbeFailure {
                kind: FailureKind::Unreachable,
                message: "connection refused".to_owned(),
            }),
            elapsed: Duration::from_millis(1),
        }),
    }
}

fn condition<'a>(status: &'a McpServerStatus, type_: &str) -> &'a Condition {
    status
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .unwrap_or_else(|| panic!("no {type_} condition in {status:?}"))
}

#[test]
fn a_verified_server_is_ready_with_its_counts_and_url() {
    let status = next_status(
        &McpServerStatus::default(),
        &healthy(13, 3),
        settings(),
        at(0),
    );
    assert_eq!(condition(&status, READY).status, "True");
    assert_eq!(condition(&status, VERIFIED).reason, "ProtocolVersion");
    assert_eq!(status.tool_count, Some(13));
    assert_eq!(status.resource_count, Some(7));
    assert_eq!(status.url.as_deref(), Some(URL));
    assert_eq!(status.latency.as_deref(), Some("2ms"));
    assert_eq!(status.observed_generation, Some(1));
    assert_eq!(status.last_probe_time, Some(Time(at(0))));
    assert!(status.conditions.iter().all(|c| c.type_ != AVAILABLE));
}

#[test]
fn timing_noise_alone_changes_nothing_until_the_refresh_period_has_passed() {
    assert_eq!(settings().timing_refresh, Duration::from_secs(300));
    let first = next_status(
        &McpServerStatus::default(),
        &healthy(13, 3),
        settings(),
        at(0),
    );
    let again = next_status(&first, &healthy(13, 2), settings(), at(30));
    assert_eq!(again, first, "a steady server must make no status write");
    let slower = next_status(&first, &healthy(13, 40), settings(), at(60));
    assert_eq!(
        slower, first,
        "a latency change alone waits for the refresh"
    );
    let later = next_status(&first, &healthy(13, 40), settings(), at(300));
    assert_eq!(later.last_probe_time, Some(Time(at(300))));
    assert_eq!(later.latency.as_deref(), Some("50ms"));
    let mut without_timing = later.clone();
    without_timing.last_probe_time = first.last_probe_time.clone();
    without_timing.latency = first.latency.clone();
    without_timing.latency_ms = first.latency_ms;
    assert_eq!(without_timing, first);
}

#[test]
fn a_real_change_is_written_with_the_new_probe_time() {
    let first = next_status(
        &McpServerStatus::default(),
        &healthy(13, 3),
        settings(),
        at(0),
    );
    let more_tools = next_status(&first, &healthy(14, 3), settings(), at(10));
    assert_eq!(more_tools.tool_count, Some(14));
    assert_eq!(more_tools.last_probe_time, Some(Time(at(10))));
    assert_eq!(more_tools.latency, first.latency);
}

#[test]
fn ready_turns_false_only_after_the_failure_threshold() {
    let ready = next_status(
        &McpServerStatus::default(),
        &healthy(13, 3),
        settings(),
        at(0),
    );
    let once = next_status(&ready, &refused(), settings(), at(30));
    assert_eq!(
        condition(&once, READY).status,
        "True",
        "one failure is not enough"
    );
    assert_eq!(condition(&once, REACHABLE).status, "False");
    assert_eq!(condition(&once, REACHABLE).reason, "Unreachable");
    assert_eq!(
        once.tool_count, None,
        "no stale tool count for an unreachable server"
    );
    assert_eq!(once.latency, None);
    assert_eq!(once.consecutive_failures, 1);
    assert_eq!(
        once.url.as_deref(),
        Some(URL),
        "the verified endpoint stays shown"
    );
    let twice = next_status(&once, &refused(), settings(), at(60));
    assert_eq!(condition(&twice, READY).status, "True");
    let thrice = next_status(&twice, &refused(), settings(), at(90));
    let ready = condition(&thrice, READY);
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "Unreachable")
    );
    assert_eq!(ready.message, "connection refused");
    assert_eq!(ready.last_transition_time, Time(at(90)));
    assert_eq!(thrice.consecutive_failures, 3);
    let steady_down = next_status(&thrice, &refused(), settings(), at(100));
    assert_eq!(
        steady_down, thrice,
        "a server that stays down makes no writes"
    );
}

#[test]
fn a_server_that_was_never_ready_is_not_ready_at_its_first_failure() {
    let status = next_status(&McpServerStatus::default(), &refused(), settings(), at(0));
    assert_eq!(condition(&status, READY).status, "False");
    assert_eq!(condition(&status, VERIFIED).status, "False");
    assert_eq!(status.url, None, "an endpoint is shown only once verified");
}

#[test]
fn recovery_resets_the_count_and_is_a_transition() {
    let mut status = next_status(
        &McpServerStatus::default(),
        &healthy(13, 3),
        settings(),
        at(0),
    );
    for step in 1..=3 {
        status = next_status(&status, &refused(), settings(), at(step * 30));
    }
    let back = next_status(&status, &healthy(13, 3), settings(), at(120));
    assert_eq!(condition(&back, READY).status, "True");
    assert_eq!(back.consecutive_failures, 0);
    let changed: Vec<&str> =
        crate::controllers::events::transitions(&status.conditions, &back.conditions)
            .iter()
            .map(|c| c.type_.as_str())
            .collect();
    assert_eq!(changed, ["Reachable", "Verified", "Ready"]);
}

#[test]
fn an_unavailable_managed_server_is_not_probed() {
    let managed = Settings {
        managed: true,
        ..settings()
    };
    let observation = Observation::NotAvailable {
        reason: "MinimumReplicasUnavailable".to_owned(),
        message: "Deployment does not have minimum availability.".to_owned(),
    };
    let status = next_status(&McpServerStatus::default(), &observation, managed, at(0));
    assert_eq!(condition(&status, AVAILABLE).status, "False");
    assert_eq!(condition(&status, REACHABLE).status, "Unknown");
    assert_eq!(condition(&status, READY).reason, "NotAvailable");
    assert_eq!(status.last_probe_time, None);
    assert_eq!(status.url, None);
    let types: Vec<&str> = status.conditions.iter().map(|c| c.type_.as_str()).collect();
    assert_eq!(types, ["Available", "Reachable", "Verified", "Ready"]);
    assert_eq!(next_status(&status, &observation, managed, at(30)), status);
}

#[test]
fn a_missing_secret_blocks_the_probe_with_its_reason() {
    let observation = Observation::Blocked {
        reason: "SecretNotFound",
        message: "Secret `creds` has no key `token`".to_owned(),
    };
    let status = next_status(&McpServerStatus::default(), &observation, settings(), at(0));
    let ready = condition(&status, READY);
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "SecretNotFound")
    );
    let fixed = next_status(&status, &healthy(1, 1), settings(), at(5));
    assert_eq!(condition(&fixed, READY).status, "True");
}

#[test]
fn latency_is_rounded_to_one_two_five_steps() {
    let cases = [
        (0, 1),
        (1, 1),
        (3, 2),
        (4, 5),
        (7, 5),
        (8, 10),
        (140, 100),
        (160, 200),
        (40_000, 50_000),
    ];
    for (millis, bucket) in cases {
        assert_eq!(bucket_ms(millis), bucket, "{millis} ms");
    }
}
