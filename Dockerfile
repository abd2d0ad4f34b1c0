# Nova's images, one multi-stage build for every binary:
#   docker build --target subgraph --build-arg BIN=nova-identity -t nova/identity .
#   docker build --target router -t nova/router .
#   docker build --target registry -t nova/registry .
# compose.yaml builds each the same way. No container engine runs on the
# development machines: CI checks that every binary and file named here exists
# in the workspace (tests/tests/deploy_compose.rs).

FROM rust:1.95-bookworm AS build
# librdkafka is built from source by rdkafka (cmake); sqlx checks its SQL against
# the prepared queries in .sqlx/, not a live database.
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
ENV SQLX_OFFLINE=true
RUN cargo build --release --locked \
      --bin nova-identity --bin nova-users --bin nova-content --bin nova-social \
      --bin nova-chat --bin nova-notifications --bin nova-feed --bin nova-search \
      --bin nova-media --bin nova-analytics --bin nova-router --bin nova-registry --bin nova

FROM debian:bookworm-slim AS runtime
# ca-certificates: TLS to S3, the JWKS, SMTP; curl: the health checks;
# ffmpeg: media's video work.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl ffmpeg \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/nova --create-home nova
WORKDIR /var/lib/nova
USER 10001

# One subgraph: BIN is its binary (nova-identity, nova-users, ...).
FROM runtime AS subgraph
ARG BIN
COPY --from=build /src/target/release/${BIN} /usr/local/bin/subgraph
ENV HTTP_HOST=0.0.0.0
ENTRYPOINT ["/usr/local/bin/subgraph"]

FROM runtime AS router
COPY --from=build /src/target/release/nova-router /usr/local/bin/nova-router
COPY router/router.yaml /etc/nova/router.yaml
COPY schema/supergraph.graphql /etc/nova/supergraph.graphql
COPY persisted-queries/manifest.json /etc/nova/manifest.json
ENV ROUTER_CONFIG_FILE_PATH=/etc/nova/router.yaml \
    NOVA_SUPERGRAPH_PATH=/etc/nova/supergraph.graphql \
    NOVA_PQ_MANIFEST_PATH=/etc/nova/manifest.json \
    NOVA_ROUTER_HOST=0.0.0.0
ENTRYPOINT ["/usr/local/bin/nova-router"]

FROM runtime AS registry
COPY --from=build /src/target/release/nova-registry /usr/local/bin/nova-registry
COPY --from=build /src/target/release/nova /usr/local/bin/nova
ENV HTTP_HOST=0.0.0.0
ENTRYPOINT ["/usr/local/bin/nova-registry"]
