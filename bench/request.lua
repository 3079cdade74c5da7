-- The requests of one scenario, for every server alike: bench/load.py sets them in the
-- environment, so the same script drives each server with the same byte sequence.
--
--   BENCH_METHOD    the method (GET when unset)
--   BENCH_BODIES    JSON bodies, one per line, cycled one per request; "{n}" in a body becomes a
--                   number unique within the run (thread number, then a counter), so e.g. every
--                   create books a new patient
--   BENCH_KEY       the bearer key
--   BENCH_SESSIONS  session names, comma-separated, cycled one per request (X-Sandbox-Session);
--                   wrk's Lua API does not say which connection sends a request, so sessions
--                   rotate per request, which spreads them over HAProxy's backends all the same
--
-- With one fixed body and no sessions, no request() is defined and wrk sends one pre-built
-- request, as cheaply for the client as it gets.
--
-- done() prints one machine-readable line (BENCH_RESULT {json}) with wrk's own counters:
-- latency percentiles in microseconds, requests, non-2xx/3xx responses and socket errors.

local function split(text, separator)
  local parts = {}
  if text == nil or text == "" then
    return parts
  end
  for part in string.gmatch(text, "([^" .. separator .. "]+)") do
    table.insert(parts, part)
  end
  return parts
end

wrk.method = os.getenv("BENCH_METHOD") or "GET"

local bodies = split(os.getenv("BENCH_BODIES"), "\n")
local sessions = split(os.getenv("BENCH_SESSIONS"), ",")
local numbered = false
for _, body in ipairs(bodies) do
  numbered = numbered or string.find(body, "{n}", 1, true) ~= nil
end

if #bodies > 0 then
  wrk.body = bodies[1]
  wrk.headers["Content-Type"] = "application/json"
end

local key = os.getenv("BENCH_KEY")
if key ~= nil and key ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. key
end

-- Runs in wrk's main Lua state, once per thread before it starts: number the threads.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("number", threads)
end

if numbered or #bodies > 1 or #sessions > 0 then
  local sent = 0
  local prefix = nil

  function request()
    if prefix == nil then
      prefix = tostring(wrk.thread:get("number")) .. "-"
    end
    local session_count = math.max(#sessions, 1)
    if #sessions > 0 then
      wrk.headers["X-Sandbox-Session"] = sessions[sent % #sessions + 1]
    end
    local body = nil
    if #bodies > 0 then
      -- Sessions change every request, bodies every round of sessions: each session sees
      -- every body in turn.
      body = bodies[math.floor(sent / session_count) % #bodies + 1]
      if numbered then
        body = string.gsub(body, "{n}", prefix .. sent)
      end
    end
    sent = sent + 1
    return wrk.format(nil, nil, wrk.headers, body)
  end
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"non_2xx_3xx": %d, "connect": %d, "read": %d, "write": %d, "timeout": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    errors.status, errors.connect, errors.read, errors.write, errors.timeout))
end
