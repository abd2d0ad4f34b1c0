//! Federation SDL export, and the `@authenticated` directive.
//!
//! async-graphql 7.2 exports a Federation v2.5 `@link` but has no built-in
//! `@authenticated` (it has `@requiresScopes`). Subgraphs mark fields with the
//! custom `authenticated` type directive below; `federated_sdl` then drops
//! async-graphql's local definition of it and imports Federation's own
//! `@authenticated` instead, so the router enforces it.

use async_graphql::{ObjectType, SDLExportOptions, Schema, SubscriptionType};

// Marks a field that needs a signed-in user. The router rejects the field for an
// anonymous caller; the resolver checks again with `Caller::require_user`. (A plain
// comment, not a doc comment: a description would be left behind in the SDL when
// `federated_sdl` removes the local definition.)
#[async_graphql::TypeDirective(name = "authenticated", location = "FieldDefinition")]
pub fn authenticated() {}

const FEDERATION_IMPORT: &str = "\"@requiresScopes\"]";
const FEDERATION_IMPORT_WITH_AUTHENTICATED: &str = "\"@requiresScopes\", \"@authenticated\"]";

/// The subgraph's SDL as the composition reads it.
pub fn federated_sdl<Q, M, S>(schema: &Schema<Q, M, S>) -> String
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    let sdl = schema.sdl_with_options(SDLExportOptions::new().federation().compose_directive());
    let uses_authenticated = sdl.contains("@authenticated");
    let mut out = String::with_capacity(sdl.len());
    for line in sdl.lines() {
        if line.trim_start().starts_with("directive @authenticated") {
            continue;
        }
        if uses_authenticated && line.contains(FEDERATION_IMPORT) {
            out.push_str(&line.replace(FEDERATION_IMPORT, FEDERATION_IMPORT_WITH_AUTHENTICATED));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}
