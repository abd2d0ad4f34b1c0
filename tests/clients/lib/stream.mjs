// What a subscription delivered, and waiting for an event with a deadline.

export class Events {
  constructor(label) {
    this.label = label;
    this.received = [];
    this.failure = null;
    this.waiters = new Set();
  }

  push(event) {
    this.received.push(event);
    this.wake();
  }

  fail(error) {
    this.failure = error;
    this.wake();
  }

  wake() {
    for (const waiter of this.waiters) waiter();
  }

  /** The first event (data) for which `matches` holds; fails after `timeoutMs`. */
  async next(matches, timeoutMs = 30_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.received.find((event) => matches(event));
      if (found) return found;
      if (this.failure) throw new Error(`${this.label} failed: ${describe(this.failure)}`);
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `${this.label}: no matching event within ${timeoutMs} ms; got ${JSON.stringify(this.received)}`,
        );
      }
      await new Promise((resolve) => {
        const waiter = () => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve();
        };
        const timer = setTimeout(waiter, left);
        this.waiters.add(waiter);
      });
    }
  }
}

export function describe(error) {
  if (error instanceof Error) return error.message;
  return JSON.stringify(error);
}

/** Retry `attempt` until it returns a value other than undefined; fails after `timeoutMs`. */
export async function eventually(label, attempt, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await attempt();
    if (last !== undefined) return last;
    if (Date.now() > deadline) throw new Error(`${label}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** A fetch that records what each request carried (method, query text, hash). */
export function recordingFetch(requests) {
  return async (input, init = {}) => {
    const url = new URL(typeof input === "string" ? input : input.url);
    let body = {};
    if (init.body) {
      body = JSON.parse(init.body);
    } else {
      const extensions = url.searchParams.get("extensions");
      body = {
        operationName: url.searchParams.get("operationName"),
        query: url.searchParams.get("query") ?? undefined,
        extensions: extensions ? JSON.parse(extensions) : undefined,
      };
    }
    requests.push({
      method: init.method ?? "GET",
      operationName: body.operationName,
      withQuery: typeof body.query === "string",
      hash: body.extensions?.persistedQuery?.sha256Hash,
    });
    return fetch(input, init);
  };
}

/**
 * Wait until the subgraph serves exactly `count` open subscriptions (its
 * `nova_live_subscribers` gauge): a stream opened by a client is live at the
 * subgraph only some time after the client's subscribe call returned.
 */
export async function waitForOpenSubscriptions(baseUrl, count, timeoutMs = 30_000) {
  await eventually(`${count} open subscriptions at ${baseUrl}`, async () => {
    const text = await (await fetch(`${baseUrl}/metrics`)).text();
    // `nova_live_subscribers{service="chat"} 2`
    const line = text.split("\n").find((l) => /^nova_live_subscribers[{ ]/.test(l));
    if (!line) throw new Error(`no nova_live_subscribers in ${baseUrl}/metrics`);
    return Number(line.split(" ").at(-1)) === count ? true : undefined;
  }, timeoutMs);
}
