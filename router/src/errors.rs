//! How the router's own errors read to a client: Nova's codes from the common
//! GraphQL set, the router's code kept in `extensions.reason` (or the validation
//! rule in `extensions.rule`), and messages in GraphQL's terms.

use hive_router::executor::response::graphql_error::{GraphQLErrorPath, GraphQLErrorPathSegment};
use hive_router::http::StatusCode;
use hive_router::GraphQLError;

use crate::refusal::UNSUPPORTED_CONTENT_TYPE_MESSAGE;

/// Router error codes that mean "we do not know who you are".
const UNAUTHENTICATED_CODES: &[&str] = &[
    "MISSING_JWT",
    "INVALID_JWT",
    "INVALID_JWT_HEADER",
    "JWT_NOT_SUPPORTED",
    "JWK_ALGORITHM_NOT_SUPPORTED",
    "JWT_LOOKUP_FAILED",
];

/// A field refused by the authorization directives (`@authenticated`,
/// `@requiresScopes`): Hive Router gives both the same code.
const REFUSED_FIELD: &str = "UNAUTHORIZED_FIELD_OR_TYPE";

/// Nova's code for a router error code, when Nova has its own. A refused
/// field means "sign in first" to a signed-out caller, and "your role does not
/// allow this" (`FORBIDDEN`) to a signed-in one: a signed-in caller meets
/// `@authenticated` everywhere, so only a scope can refuse it.
fn nova_code(router_code: &str, signed_in: bool) -> Option<&'static str> {
    match router_code {
        REFUSED_FIELD if signed_in => Some("FORBIDDEN"),
        REFUSED_FIELD => Some("UNAUTHENTICATED"),
        code if UNAUTHENTICATED_CODES.contains(&code) => Some("UNAUTHENTICATED"),
        "PERSISTED_DOCUMENT_NOT_FOUND" => Some("PERSISTED_QUERY_NOT_FOUND"),
        // Safelist mode and a request without a manifest id.
        "PERSISTED_DOCUMENT_ID_REQUIRED" => Some("OPERATION_NOT_ALLOWED"),
        _ => None,
    }
}

/// Hive Router 0.2.19 gives a validation error its rule's name as the code
/// (`FieldsOnCorrectType`); clients look for `GRAPHQL_VALIDATION_FAILED`.
fn is_validation_rule(code: &str) -> bool {
    code.starts_with(|c: char| c.is_ascii_uppercase())
        && code.chars().any(|c| c.is_ascii_lowercase())
        && code.chars().all(|c| c.is_ascii_alphanumeric())
}

/// A variable-coercion message ends in the value's Rust debug form
/// (`String cannot represent a non string value: Number(Number(5)).`); say what
/// kind of JSON value it was instead.
fn readable_coercion_message(message: &str) -> Option<String> {
    let (rule, value) = message.rsplit_once(": ")?;
    let kind = [
        ("Number(", "a number"),
        ("String(", "a string"),
        ("Bool(", "a boolean"),
        ("Array(", "a list"),
        ("Object(", "an object"),
    ]
    .into_iter()
    .find_map(|(debug, kind)| value.starts_with(debug).then_some(kind))?;
    Some(format!("{rule}; {kind} was given."))
}

/// What a client that POSTed a subscription accepting only single responses is
/// told (Hive Router says "Subscriptions are not supported").
const SUBSCRIPTION_TRANSPORTS_MESSAGE: &str = "a subscription streams: POST it with \
     `Accept: text/event-stream` (SSE) or `Accept: multipart/mixed`, or use \
     graphql-transport-ws on /ws";

/// What a request refused by CSRF prevention is told (Hive Router says "Required
/// CSRF header(s) not present"): the headers of `router.yaml`'s `csrf` section.
const CSRF_MESSAGE: &str = "a GET request, or one with a form or text/plain body, runs \
     only with one of the headers `x-nova-client`, `apollo-require-preflight` or \
     `x-apollo-operation-name` (any value), which a browser cannot add to a \
     cross-site request without asking; a POST with `Content-Type: application/json` \
     needs none";

/// An error a subgraph raised resolving entities arrives with the subgraph's
/// own path (`["_entities", "followers"]`: async-graphql 7.2 puts no entity
/// index in it, so Hive cannot map it to the response) and locations in the
/// subgraph's document. The client gets the entities' place in its response from
/// `extensions.affectedPath` (`userByUsername`, `homeFeed.edges.@.node|[Post]`):
/// its fields up to the first list (which item failed is unknown), then the
/// subgraph path's rest when no list came first; the locations are dropped.
fn client_path(error: &mut GraphQLError) {
    let Some(path) = &error.path else {
        return;
    };
    let entities = GraphQLErrorPathSegment::String("_entities".to_string());
    if path.segments.first() != Some(&entities) {
        return;
    }
    let Some(affected) = &error.extensions.affected_path else {
        return;
    };
    let mut segments = Vec::new();
    let mut through_a_list = false;
    for step in affected.split('.') {
        if step == "@" {
            through_a_list = true;
            break;
        }
        // A type condition (`node|[Post]`) belongs to the step, not the response.
        let field = step.split("|[").next().unwrap_or(step);
        segments.push(GraphQLErrorPathSegment::String(field.to_string()));
    }
    if !through_a_list {
        segments.extend(path.segments[1..].iter().cloned());
    }
    error.path = Some(GraphQLErrorPath { segments });
    error.locations = None;
}

/// The automatic-persisted-queries protocol: clients (Apollo Client's
/// persisted-queries link, urql's persisted exchange) resend an operation with its
/// document when an error's message is exactly `PersistedQueryNotFound`. Hive says
/// "Persisted document not found: <id>"; the id moves to `extensions.documentId`.
fn persisted_query_not_found(error: &mut GraphQLError) {
    if let Some((_, id)) = error.message.rsplit_once(": ") {
        let id = id.trim_end_matches('.');
        error
            .extensions
            .extensions
            .insert("documentId".to_string(), id.into());
    }
    error.message = "PersistedQueryNotFound".to_string();
}

/// Shape one error the router is about to send (`signed_in`: the request
/// carried a verified token); the HTTP status it calls for when that differs
/// from Hive Router's.
pub fn shape(error: &mut GraphQLError, signed_in: bool) -> Option<StatusCode> {
    client_path(error);
    let code = error.extensions.code.clone()?;
    let detail = |error: &mut GraphQLError, key: &str| {
        error
            .extensions
            .extensions
            .insert(key.to_string(), code.as_str().into());
    };
    if code == "PERSISTED_DOCUMENT_NOT_FOUND" {
        persisted_query_not_found(error);
    }
    if let Some(nova) = nova_code(&code, signed_in) {
        detail(error, "reason");
        error.extensions.code = Some(nova.to_string());
    } else if is_validation_rule(&code) {
        detail(error, "rule");
        error.extensions.code = Some("GRAPHQL_VALIDATION_FAILED".to_string());
    } else if code == "BAD_USER_INPUT" {
        if let Some(message) = readable_coercion_message(&error.message) {
            error.message = message;
        }
    } else if code == "CSRF_PREVENTION_FAILED" {
        error.message = CSRF_MESSAGE.to_string();
    } else if code == "UNSUPPORTED_CONTENT_TYPE" {
        error.message = UNSUPPORTED_CONTENT_TYPE_MESSAGE.to_string();
    } else if code == "SUBSCRIPTIONS_NOT_SUPPORTED"
        || code == "SUBSCRIPTIONS_TRANSPORT_NOT_SUPPORTED"
    {
        // Subscriptions are served; what the client accepts is the problem (406,
        // where Hive says 415 for a client that accepts no streaming type).
        error.message = SUBSCRIPTION_TRANSPORTS_MESSAGE.to_string();
        return Some(StatusCode::NOT_ACCEPTABLE);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shaped(message: &str, code: &str) -> GraphQLError {
        let mut error = GraphQLError::from_message_and_code(message, code);
        shape(&mut error, false);
        error
    }

    #[test]
    fn a_validation_rule_becomes_graphql_validation_failed_with_the_rule() {
        let error = shaped(
            "Cannot query field \"nope\" on type \"Query\".",
            "FieldsOnCorrectType",
        );
        assert_eq!(
            error.extensions.code.as_deref(),
            Some("GRAPHQL_VALIDATION_FAILED")
        );
        assert_eq!(error.extensions.extensions["rule"], "FieldsOnCorrectType");
        let kept = shaped("Token limit exceeded.", "TOKEN_LIMIT_EXCEEDED");
        assert_eq!(
            kept.extensions.code.as_deref(),
            Some("TOKEN_LIMIT_EXCEEDED")
        );
    }

    #[test]
    fn a_coercion_message_names_the_kind_of_value_not_its_rust_form() {
        let error = shaped(
            "String cannot represent a non string value: Number(Number(5)).",
            "BAD_USER_INPUT",
        );
        assert_eq!(
            error.message,
            "String cannot represent a non string value; a number was given."
        );
        let untouched = shaped(
            "Variable \"$u\" of required type \"String!\" was not provided.",
            "BAD_USER_INPUT",
        );
        assert_eq!(
            untouched.message,
            "Variable \"$u\" of required type \"String!\" was not provided."
        );
    }

    #[test]
    fn an_unknown_persisted_query_says_so_in_the_apq_protocols_words() {
        let error = shaped(
            "Persisted document not found: abc123",
            "PERSISTED_DOCUMENT_NOT_FOUND",
        );
        assert_eq!(error.message, "PersistedQueryNotFound");
        assert_eq!(
            error.extensions.code.as_deref(),
            Some("PERSISTED_QUERY_NOT_FOUND")
        );
        assert_eq!(error.extensions.extensions["documentId"], "abc123");
        assert_eq!(
            error.extensions.extensions["reason"],
            "PERSISTED_DOCUMENT_NOT_FOUND"
        );
    }

    fn entity_error(affected: &str) -> GraphQLError {
        let mut error =
            GraphQLError::from_message_and_code("first must be at most 100", "BAD_USER_INPUT");
        error.path = Some(GraphQLErrorPath {
            segments: vec![
                GraphQLErrorPathSegment::String("_entities".into()),
                GraphQLErrorPathSegment::String("followers".into()),
            ],
        });
        error.extensions.affected_path = Some(affected.into());
        shape(&mut error, false);
        error
    }

    fn path_of(error: &GraphQLError) -> Vec<GraphQLErrorPathSegment> {
        error.path.as_ref().unwrap().segments.clone()
    }

    #[test]
    fn an_entity_error_points_into_the_clients_response() {
        let field = |name: &str| GraphQLErrorPathSegment::String(name.into());
        let error = entity_error("userByUsername");
        assert_eq!(
            path_of(&error),
            [field("userByUsername"), field("followers")]
        );
        assert!(error.locations.is_none());
        // Through a list: up to the list, whose failed item is not known.
        let listed = entity_error("homeFeed.edges.@.node|[Post]");
        assert_eq!(path_of(&listed), [field("homeFeed"), field("edges")]);
    }

    #[test]
    fn router_auth_codes_become_unauthenticated_with_the_reason() {
        let error = shaped("Missing JWT", "MISSING_JWT");
        assert_eq!(error.extensions.code.as_deref(), Some("UNAUTHENTICATED"));
        assert_eq!(error.extensions.extensions["reason"], "MISSING_JWT");
    }

    #[test]
    fn a_refused_field_is_unauthenticated_signed_out_and_forbidden_signed_in() {
        let signed_out = shaped("Unauthorized field or type", REFUSED_FIELD);
        assert_eq!(
            signed_out.extensions.code.as_deref(),
            Some("UNAUTHENTICATED")
        );
        let mut signed_in =
            GraphQLError::from_message_and_code("Unauthorized field", REFUSED_FIELD);
        shape(&mut signed_in, true);
        assert_eq!(signed_in.extensions.code.as_deref(), Some("FORBIDDEN"));
        assert_eq!(signed_in.extensions.extensions["reason"], REFUSED_FIELD);
    }
}
