-- One request, repeated, for every scenario and server: bench/run.py sets the method, the JSON
-- body and the bearer key in the environment (BENCH_METHOD, BENCH_BODY, BENCH_KEY), so the
-- same script drives each server with byte-identical requests.
--
-- done() prints one machine-readable line (BENCH_RESULT {json}) with wrk's own counters:
-- latency percentiles in microseconds, requests, non-2xx/3xx responses and socket errors.

wrk.method = os.getenv("BENCH_METHOD") or "GET"

local body = os.getenv("BENCH_BODY")
if body ~= nil and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end

local key = os.getenv("BENCH_KEY")
if key ~= nil and key ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. key
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"non_2xx_3xx": %d, "connect": %d, "read": %d, "write": %d, "timeout": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    errors.status, errors.connect, errors.read, errors.write, errors.timeout))
end
