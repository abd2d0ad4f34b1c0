//! Composition and the API schema.

use apollo_compiler::validation::Valid;
use apollo_compiler::Schema;
use apollo_federation::composition::{compose as compose_subgraphs, CompositionOptions};
use apollo_federation::subgraph::typestate::Subgraph;
use apollo_federation::{ApiSchemaOptions, Supergraph};

/// One subgraph as published: name, routing URL, SDL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubgraphSource {
    pub name: String,
    pub url: String,
    pub sdl: String,
}

/// Compose subgraphs into a supergraph SDL, or the composition errors (each a
/// readable line). Nothing else is checked here.
pub fn compose(subgraphs: &[SubgraphSource]) -> Result<String, Vec<String>> {
    let mut parsed = Vec::with_capacity(subgraphs.len());
    for subgraph in subgraphs {
        match Subgraph::parse(&subgraph.name, &subgraph.url, &subgraph.sdl) {
            Ok(subgraph) => parsed.push(subgraph),
            Err(error) => return Err(vec![format!("subgraph {}: {error}", subgraph.name)]),
        }
    }
    match compose_subgraphs(parsed, CompositionOptions::default()) {
        Ok(supergraph) => Ok(supergraph.schema().schema().to_string()),
        Err(failure) => Err(failure.errors.iter().map(|e| e.to_string()).collect()),
    }
}

/// The client-facing schema of a supergraph (what the router serves).
pub fn api_schema(supergraph_sdl: &str) -> Result<Valid<Schema>, String> {
    // The router's spec list includes `@authenticated` (a SECURITY feature).
    let supergraph = Supergraph::new_with_router_specs(supergraph_sdl)
        .map_err(|e| format!("supergraph: {e}"))?;
    let api = supergraph
        .to_api_schema(ApiSchemaOptions::default())
        .map_err(|e| format!("API schema: {e}"))?;
    Ok(api.schema().clone())
}
