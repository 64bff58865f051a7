//! `prompts/get` and `resources/read` through `/mcp`, with the same input rounds as a tool
//! call: a 2025-era upstream's questions mid-way go to the `asker`; a 2026-07-28 upstream's
//! `input_required` reaches a stateless client with a sealed `requestState`, bound to the
//! prompt or resource, and the retry's answers go back to the upstream.

use std::sync::Arc;

use llamagate_mcp::{
    ServerClient,
    cache::ListKind,
    server::operations::{Interaction, ToolOutcome},
};
use serde_json::{Map, Value, json};

use super::{
    catalog::View,
    dispatch::{Outcome, require, resolve, usable},
    input,
    owned::Caller,
    relay::{Ask, Retry},
    rpc::RpcError,
    stateless::Declared,
    uris,
    wire::{arguments_param, meta, string_param},
};
use crate::{auth::Principal, config::Scope, state::AppState};

/// Where a prompt or read stands; `subject` names the request and what it is about.
fn site<'a>(
    principal: &'a Principal,
    view: &'a View,
    server: &'a ServerClient,
    subject: &'a str,
) -> input::CallSite<'a> {
    input::CallSite {
        key: &principal.name,
        view: &view.path,
        server: server.name(),
        tool: subject,
    }
}

/// The answers of a retry, checked against what the sealed state was given for.
fn interaction(
    state: &AppState,
    declared: Option<&Declared>,
    params: &Map<String, Value>,
    site: &input::CallSite<'_>,
    server: &ServerClient,
    caller: Caller,
) -> Result<Interaction, RpcError> {
    let retry = match declared {
        Some(_) => input::retry(state.sessions(), params, site)?,
        None => input::Retry::default(),
    };
    Ok(Interaction {
        input_responses: retry.input_responses,
        request_state: retry.request_state,
        session: caller.session_at(server),
        asker: caller.asker,
    })
}

/// The upstream's outcome for the client: an `input_required` sealed for a stateless one;
/// for a session, the questions to ask it and what to send again with its answers.
fn outcome(
    state: &AppState,
    declared: Option<&Declared>,
    (site, server): (&input::CallSite<'_>, &Arc<ServerClient>),
    outcome: ToolOutcome,
    retry: impl FnOnce() -> Retry,
) -> Result<Outcome, RpcError> {
    match (outcome, declared) {
        (ToolOutcome::Complete { result }, _) => Ok(result.into()),
        (ToolOutcome::InputRequired { result }, Some(declared)) => {
            Ok(input::for_client(state.sessions(), result, declared, site)?.into())
        }
        (ToolOutcome::InputRequired { result }, None) => Ok(Outcome::NeedsClient(Ask {
            server: server.clone(),
            retry: retry(),
            first: result,
        })),
    }
}

/// `prompts/get`.
pub async fn get_prompt(
    state: &AppState,
    principal: &Principal,
    view: &View,
    declared: Option<&Declared>,
    params: &Map<String, Value>,
    caller: Caller,
) -> Result<Outcome, RpcError> {
    require(principal, Scope::McpCall)?;
    let name = string_param(params, "name")?;
    let arguments = arguments_param(params)?;
    let (server, prompt) = resolve(
        (state, principal, view),
        &caller.owned,
        ListKind::Prompts,
        name,
    )
    .await?;
    usable(&server)?;
    // The sealed state names what it was given for: this prompt, not a tool of its name.
    let subject = format!("prompts/get {prompt}");
    let site = site(principal, view, &server, &subject);
    let interaction = interaction(state, declared, params, &site, &server, caller)?;
    let got = server
        .get_prompt_with(&prompt, arguments.clone(), interaction.clone())
        .await?;
    let prefix = uris::prefix_of(view, &server);
    let answer = outcome(state, declared, (&site, &server), got, || Retry::Prompt {
        name: prompt.clone(),
        arguments,
        interaction,
        prefix: prefix.clone(),
    })?;
    Ok(answer.map_result(|result| uris::name_links(result, prefix.as_deref())))
}

/// `resources/read`: the contents name the URI the client asked for.
pub async fn read_resource(
    state: &AppState,
    principal: &Principal,
    view: &View,
    declared: Option<&Declared>,
    params: &Map<String, Value>,
    caller: Caller,
) -> Result<Outcome, RpcError> {
    require(principal, Scope::McpRead)?;
    let uri = string_param(params, "uri")?;
    let (server, original) = uris::resolve((state, principal, view), &caller.owned, uri).await?;
    let server = &server;
    usable(server)?;
    let subject = format!("resources/read {original}");
    let site = site(principal, view, server, &subject);
    let interaction = interaction(state, declared, params, &site, server, caller)?;
    let got = server
        .read_resource_with(&original, meta(params), interaction.clone())
        .await
        .map_err(|e| {
            // The URI asked for, as SEP-2164 wants it in a not-found error's data.
            let mut error = RpcError::from(e);
            if let Some(data) = error.data.as_mut() {
                data["uri"] = json!(uri);
            }
            error
        })?;
    // The contents name the URI as the client asked for it.
    let prefix = (uri != original).then(|| server.name().to_owned());
    let retry = || Retry::Read {
        uri: original.clone(),
        meta: meta(params),
        interaction,
        prefix: prefix.clone(),
    };
    let answer = outcome(state, declared, (&site, server), got, retry)?;
    Ok(answer.map_result(|result| uris::name_contents(result, prefix.as_deref())))
}
