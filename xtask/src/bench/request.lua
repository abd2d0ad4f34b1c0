-- wrk script for `cargo xtask bench`: POSTs request bodies to /graphql with a
-- bearer token, and counts GraphQL errors.
--   wrk ... -s request.lua URL -- BODIES_FILE TOKEN
-- BODIES_FILE holds one JSON request body per line (written by wrk.rs with
-- serde_json). Each thread draws bodies at random from its own seed: threads
-- walking one list in lock step send identical requests together, and the
-- router's in-flight deduplication merges them, which flatters the figures.
local threads = {}
errors = 0

setup = function(thread)
  table.insert(threads, thread)
  thread:set("seed", #threads)
end

init = function(args)
  math.randomseed(seed)
  bodies = {}
  for line in io.lines(args[1]) do
    table.insert(bodies, line)
  end
  headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. args[2] }
end

request = function()
  return wrk.format("POST", "/graphql", headers, bodies[math.random(#bodies)])
end

response = function(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) then
    errors = errors + 1
  end
end

done = function(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("errors")
  end
  io.write(string.format(
    "NOVA requests=%d seconds=%.3f p50_us=%d p99_us=%d errors=%d socket_errors=%d\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    total, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
