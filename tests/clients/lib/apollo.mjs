// Apollo Client as a front end sets it up: the persisted-queries link in front of
// HTTP for queries and mutations and of graphql-ws (the router's /ws) for
// subscriptions. Apollo's link sends the SHA-256 of Apollo's own print of the
// document (after its cache added __typename); the router knows it only if the
// manifest was generated the same way.
import { createHash } from "node:crypto";

import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { CombinedGraphQLErrors } from "@apollo/client/errors";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions";
import { getMainDefinition } from "@apollo/client/utilities";
import { createClient } from "graphql-ws";
import WebSocket from "ws";

import { routerUrl, webSocketUrl } from "./operations.mjs";
import { Events, recordingFetch } from "./stream.mjs";

const sha256 = (text) => createHash("sha256").update(text).digest("hex");

function errorsOf(error) {
  if (!error) return [];
  if (CombinedGraphQLErrors.is(error)) return error.errors;
  return [{ message: error.message, transport: true }];
}

/** A signed-in (or anonymous) Apollo Client; `requests` records its HTTP requests. */
export function apolloClient({ token, requests }) {
  const headers = token ? { authorization: `Bearer ${token}` } : {};
  const http = new HttpLink({ uri: routerUrl(), headers, fetch: recordingFetch(requests) });
  const sockets = createClient({
    url: webSocketUrl(),
    webSocketImpl: WebSocket,
    connectionParams: { headers },
    retryAttempts: 0,
  });
  const isSubscription = ({ query }) => {
    const definition = getMainDefinition(query);
    return definition.kind === "OperationDefinition" && definition.operation === "subscription";
  };
  const client = new ApolloClient({
    link: new PersistedQueryLink({ sha256 }).concat(
      ApolloLink.split(isSubscription, new GraphQLWsLink(sockets), http),
    ),
    cache: new InMemoryCache(),
  });

  return {
    transport: "HTTP and WebSocket",
    async run(source, variables) {
      const document = gql(source);
      const isMutation = getMainDefinition(document).operation === "mutation";
      const result = isMutation
        ? await client.mutate({ mutation: document, variables, errorPolicy: "all" })
        : await client.query({
            query: document,
            variables,
            fetchPolicy: "network-only",
            errorPolicy: "all",
          });
      return { data: result.data, errors: errorsOf(result.error) };
    },
    subscribe(label, source, variables) {
      const events = new Events(label);
      const subscription = client.subscribe({ query: gql(source), variables }).subscribe({
        next: (result) =>
          result.error ? events.fail(errorsOf(result.error)) : events.push(result.data),
        error: (error) => events.fail(error),
      });
      events.close = () => subscription.unsubscribe();
      return events;
    },
    async close() {
      client.stop();
      await sockets.dispose();
    },
  };
}
