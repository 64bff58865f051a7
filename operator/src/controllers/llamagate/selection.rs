//! Which `McpServer`s a `LlamaGate` uses: those of its namespace its selector matches.

use std::{collections::BTreeMap, sync::Arc};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::{ResourceExt, runtime::reflector::Store};
use llamagate_crds::{LlamaGate, McpServer};

/// Whether `labels` satisfy `selector` (`matchLabels` and every `matchExpressions` entry).
pub fn matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let labels_match = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(key, value)| labels.get(key) == Some(value));
    let expressions_match = selector
        .match_expressions
        .iter()
        .flatten()
        .all(|expression| {
            let values = expression.values.as_deref().unwrap_or_default();
            let value = labels.get(&expression.key);
            match expression.operator.as_str() {
                "In" => value.is_some_and(|v| values.contains(v)),
                "NotIn" => value.is_none_or(|v| !values.contains(v)),
                "Exists" => value.is_some(),
                "DoesNotExist" => value.is_none(),
                // An operator the API would have refused selects nothing.
                _ => false,
            }
        });
    labels_match && expressions_match
}

/// The servers of `store` that `gateway` uses, sorted by name.
pub fn selected_servers(store: &Store<McpServer>, gateway: &LlamaGate) -> Vec<Arc<McpServer>> {
    let namespace = gateway.namespace();
    let everything = LabelSelector::default();
    let selector = gateway
        .spec
        .mcp_server_selector
        .as_ref()
        .unwrap_or(&everything);
    let mut servers: Vec<_> = store
        .state()
        .into_iter()
        .filter(|server| server.namespace() == namespace)
        .filter(|server| matches(selector, server.labels()))
        .collect();
    servers.sort_by_key(|server| server.name_any());
    servers
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn expression(key: &str, operator: &str, values: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.to_owned(),
            operator: operator.to_owned(),
            values: Some(values.iter().map(|v| (*v).to_owned()).collect()),
        }
    }

    #[test]
    fn selectors_match_as_the_api_server_does() {
        let team_a = labels(&[("team", "a"), ("tier", "gold")]);
        let by_label = LabelSelector {
            match_labels: Some(labels(&[("team", "a")])),
            ..LabelSelector::default()
        };
        assert!(matches(&by_label, &team_a));
        assert!(!matches(&by_label, &labels(&[("team", "b")])));
        assert!(
            matches(&LabelSelector::default(), &labels(&[])),
            "empty selects all"
        );
        let cases = [
            (expression("tier", "In", &["gold", "silver"]), true),
            (expression("tier", "NotIn", &["gold"]), false),
            (expression("team", "Exists", &[]), true),
            (expression("zone", "DoesNotExist", &[]), true),
            (expression("zone", "In", &["x"]), false),
            (expression("team", "Bogus", &[]), false),
        ];
        for (requirement, expected) in cases {
            let selector = LabelSelector {
                match_expressions: Some(vec![requirement.clone()]),
                ..LabelSelector::default()
            };
            assert_eq!(matches(&selector, &team_a), expected, "{requirement:?}");
        }
    }
}
