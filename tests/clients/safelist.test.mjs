// With the safelist on (production), the real clients run every shipped operation:
// each id they compute themselves is one the manifest lists.
import assert from "node:assert/strict";
import test from "node:test";

import { apolloClient } from "./lib/apollo.mjs";
import { manifestIds } from "./lib/operations.mjs";
import { runEveryOperation } from "./lib/scenario.mjs";
import { urqlClient } from "./lib/urql.mjs";

for (const [library, makeClient] of [
  ["Apollo Client", apolloClient],
  ["urql", urqlClient],
]) {
  test(`${library} runs every shipped operation with the safelist on`, async () => {
    const requests = [];
    const ran = await runEveryOperation(makeClient, requests);
    assert.deepEqual([...ran].sort(), [...manifestIds.keys()].sort());
    // Each HTTP request carried the manifest's id for its operation, and none had
    // to be resent with its document (the router knew every id).
    assert.ok(requests.length >= 30, `only ${requests.length} HTTP requests were seen`);
    for (const request of requests) {
      assert.equal(request.hash, manifestIds.get(request.operationName), request.operationName);
      assert.equal(request.withQuery, false, `${request.operationName} was sent with its document`);
    }
  });
}

test("an operation outside the manifest is refused, document or not", async () => {
  const requests = [];
  const client = apolloClient({ token: null, requests });
  try {
    const { data, errors } = await client.run(
      "query NotShipped { userByUsername(username: \"nobody\") { id } }",
      {},
    );
    assert.equal(data, undefined);
    assert.deepEqual(
      errors.map((error) => error.extensions.code),
      ["PERSISTED_QUERY_NOT_FOUND"],
    );
    // Apollo's link sent the id, then the document as the protocol says; neither ran.
    assert.deepEqual(
      requests.map((request) => request.withQuery),
      [false, true],
    );
  } finally {
    await client.close();
  }
});
