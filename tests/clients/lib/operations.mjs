// The shipped operations (persisted-queries/<component>/<Operation>.graphql), read
// the way a front end bundles them: one document per operation, by name.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "../../..");
const shippedDir = join(root, "persisted-queries");

/** Operation name -> its document's source. */
export const shipped = new Map(
  readdirSync(shippedDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .flatMap((dir) =>
      readdirSync(join(shippedDir, dir.name))
        .filter((file) => file.endsWith(".graphql"))
        .map((file) => [
          file.replace(/\.graphql$/, ""),
          readFileSync(join(shippedDir, dir.name, file), "utf8"),
        ]),
    ),
);

/** The committed manifest: operation name -> id. */
export const manifestIds = new Map(
  JSON.parse(readFileSync(join(shippedDir, "manifest.json"), "utf8")).operations.map(
    (operation) => [operation.name, operation.id],
  ),
);

/** The router under test, from the Rust harness (`tests/tests/real_clients.rs`). */
export function routerUrl() {
  const url = process.env.NOVA_ROUTER_URL;
  if (!url) {
    throw new Error("NOVA_ROUTER_URL is not set: run through `cargo xtask test --test real_clients`");
  }
  return url;
}

export function webSocketUrl() {
  return routerUrl().replace(/^http/, "ws").replace(/\/graphql$/, "/ws");
}

/** A subgraph's base URL (`NOVA_SUBGRAPH_URLS`, a JSON object by subgraph name). */
export function subgraphUrl(name) {
  const url = JSON.parse(process.env.NOVA_SUBGRAPH_URLS ?? "{}")[name];
  if (!url) throw new Error(`NOVA_SUBGRAPH_URLS names no ${name} subgraph`);
  return url;
}
