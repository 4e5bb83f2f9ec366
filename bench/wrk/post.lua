-- POST request bodies for wrk, and a machine-readable summary at the end.
--
-- Environment (read at load time, so wrk knows whether requests are static):
--   BENCH_BODIES  file with one request body per line (JSON has no raw newlines)
--   BENCH_MODE    static: the first body on every request (wrk's fast path)
--                 cycle:  the bodies in turn, one per request
--                 fresh:  the bodies in turn, each "@@S@@" replaced by an RFC 3339
--                         time unique to the request (a fresh alert occurrence)
--   BENCH_FIRST_DELAY_MS, BENCH_CONNECTIONS
--                 hold the first request of each connection this long (default 200 ms)
--                 so that the server accepts every connection while it is still idle.
--                 Without it, a saturated uvicorn/uvloop server accepts about one new
--                 connection per event-loop round: the last of 64 connections gets its
--                 first answer seconds late, and wrk's coordinated-omission correction
--                 turns those few late answers into a p95/p99 of seconds. The caller
--                 takes the delay off the run's duration when computing the rate.
-- Method, path and headers come from the wrk command line (-H, URL).

local mode = os.getenv("BENCH_MODE") or "static"
local path = os.getenv("BENCH_BODIES")
local bodies = {}
for line in io.lines(path) do
  if #line > 0 then bodies[#bodies + 1] = line end
end
assert(#bodies > 0, "no bodies in " .. tostring(path))

wrk.method = "POST"
wrk.body = bodies[1]

if mode == "cycle" then
  local reqs, i = {}, 0
  init = function(args)
    for k, body in ipairs(bodies) do
      reqs[k] = wrk.format("POST", nil, nil, body)
    end
  end
  request = function()
    i = i % #reqs + 1
    return reqs[i]
  end
elseif mode == "fresh" then
  local n, base = 0, os.time() - 86400
  request = function()
    n = n + 1
    local stamp = os.date("!%Y-%m-%dT%H:%M:%S", base + math.floor(n / 1000))
      .. string.format(".%03dZ", n % 1000)
    local body = bodies[(n - 1) % #bodies + 1]:gsub("@@S@@", stamp)
    return wrk.format("POST", nil, nil, body)
  end
end

local first_delay = tonumber(os.getenv("BENCH_FIRST_DELAY_MS") or "200")
local connections = tonumber(os.getenv("BENCH_CONNECTIONS") or "64")
if first_delay > 0 then
  local delayed = 0
  delay = function()
    if delayed < connections then
      delayed = delayed + 1
      return first_delay
    end
    return 0
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,"errors_connect":%d,' ..
    '"errors_read":%d,"errors_write":%d,"errors_status":%d,"errors_timeout":%d,' ..
    '"lat_mean_us":%.1f,"lat_p50_us":%.1f,"lat_p90_us":%.1f,"lat_p99_us":%.1f,' ..
    '"lat_max_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end
