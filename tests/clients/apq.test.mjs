// Development mode: automatic persisted queries. A client sends an operation the
// manifest does not list by its hash alone, is told `PersistedQueryNotFound`, and
// resends it with its document, which runs.
import assert from "node:assert/strict";
import test from "node:test";

import { apolloClient } from "./lib/apollo.mjs";
import { urqlClient } from "./lib/urql.mjs";

for (const [library, makeClient] of [
  ["Apollo Client", apolloClient],
  ["urql", urqlClient],
]) {
  test(`${library} runs an operation the manifest does not list`, async () => {
    const requests = [];
    const client = makeClient({ token: null, requests });
    try {
      const { data, errors } = await client.run(
        "query UnlistedProfile($username: String!) { userByUsername(username: $username) { id } }",
        { username: "nobody" },
      );
      assert.deepEqual(errors, []);
      assert.equal(data.userByUsername, null);
      assert.deepEqual(
        requests.map((request) => request.withQuery),
        [false, true],
        "the id alone, then the document",
      );
    } finally {
      await client.close();
    }
  });
}
