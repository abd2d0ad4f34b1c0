//! Spans of a GraphQL request inside a subgraph: the operation, and each field
//! that returns an object or a list of them (the resolvers that load something;
//! scalar fields are read from what those loaded and would only add noise).
//! Neither the document nor its variables are recorded: they may hold passwords.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextResolve, ResolveInfo,
};
use async_graphql::registry::MetaTypeName;
use async_graphql::{Response, ServerResult, Value};
use tracing::Instrument;

use super::tracing_on;

/// The schema extension (added by `caller::subgraph_schema` when traces are on).
pub struct GraphqlSpans;

impl ExtensionFactory for GraphqlSpans {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(GraphqlSpans)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for GraphqlSpans {
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        if !tracing_on() {
            return next.run(ctx, operation_name).await;
        }
        let span = tracing::info_span!(
            "graphql operation",
            otel.name = %format!("GraphQL {}", operation_name.unwrap_or("operation")),
            graphql.operation.name = operation_name.unwrap_or_default(),
        );
        next.run(ctx, operation_name).instrument(span).await
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let returns_objects = !info.is_for_introspection
            && ctx
                .schema_env
                .registry
                .types
                .get(MetaTypeName::concrete_typename(info.return_type))
                .is_some_and(|ty| !ty.is_leaf());
        if !tracing_on() || !returns_objects {
            return next.run(ctx, info).await;
        }
        let span = tracing::info_span!(
            "graphql field",
            otel.name = %format!("{}.{}", info.parent_type, info.name),
            graphql.field.path = %info.path_node,
            graphql.field.type = info.return_type,
        );
        next.run(ctx, info).instrument(span).await
    }
}
