// urql as a front end sets it up: the persisted exchange in front of the fetch
// exchange, which sends queries as GET requests and streams subscriptions over
// Server-Sent Events (`fetchSubscriptions`). urql hashes its own print of the
// document (after its cache added __typename).
import { Client, cacheExchange, fetchExchange, gql } from "@urql/core";
import { persistedExchange } from "@urql/exchange-persisted";

import { routerUrl } from "./operations.mjs";
import { Events, recordingFetch } from "./stream.mjs";

function errorsOf(error) {
  if (!error) return [];
  if (error.graphQLErrors.length > 0) return error.graphQLErrors;
  return [{ message: error.message, transport: true }];
}

/**
 * A signed-in (or anonymous) urql client; `requests` records its HTTP requests.
 * urql sends persisted queries as GET requests, which carry no content type: the
 * router's CSRF rule wants one of its preflight headers on them (README, "CSRF"),
 * as Apollo Server and Router want `apollo-require-preflight`.
 */
export function urqlClient({ token, requests }) {
  const headers = { "x-nova-client": "nova-clients-test" };
  if (token) headers.authorization = `Bearer ${token}`;
  const client = new Client({
    url: routerUrl(),
    exchanges: [
      cacheExchange,
      persistedExchange({ enableForMutation: true, enableForSubscriptions: true }),
      fetchExchange,
    ],
    fetchSubscriptions: true,
    requestPolicy: "network-only",
    fetchOptions: { headers },
    fetch: recordingFetch(requests),
  });

  return {
    transport: "HTTP and SSE",
    async run(source, variables) {
      const document = gql(source);
      const isMutation = document.definitions[0].operation === "mutation";
      const operation = isMutation
        ? client.mutation(document, variables)
        : client.query(document, variables);
      const result = await operation.toPromise();
      return { data: result.data, errors: errorsOf(result.error) };
    },
    subscribe(label, source, variables) {
      const events = new Events(label);
      const subscription = client.subscription(gql(source), variables).subscribe((result) => {
        if (result.error) events.fail(errorsOf(result.error));
        else if (result.data) events.push(result.data);
      });
      events.close = () => subscription.unsubscribe();
      return events;
    },
    async close() {},
  };
}
