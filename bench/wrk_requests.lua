-- wrk script for bench/api.py: each thread sends its share of pre-built requests, one per
-- line of the file named by the first script argument (method, path and JSON body separated
-- by tabs), once each; then GET /healthz so no request repeats. Counts statuses other than
-- the expected one (second argument) and prints one JSON summary line at the end.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local file = args[1]
  expected = tonumber(args[2])
  local nthreads = tonumber(args[3])
  headers = {}
  if args[4] and args[4] ~= "" then headers["Authorization"] = "Bearer " .. args[4] end
  headers["Content-Type"] = "application/json"
  requests = {}
  local n = 0
  for line in io.lines(file) do
    if n % nthreads == id then
      local method, path, body = line:match("^(%S+)\t(%S+)\t?(.*)$")
      if body == "" then body = nil end
      table.insert(requests, wrk.format(method, path, headers, body))
    end
    n = n + 1
  end
  index = 0
  errors = 0
  exhausted = 0
  statuses = {}
end

function request()
  index = index + 1
  local built = requests[index]
  if built == nil then
    exhausted = exhausted + 1
    return wrk.format("GET", "/healthz")
  end
  return built
end

function response(status, headers, body)
  if status ~= expected and index <= #requests then
    errors = errors + 1
    statuses[status] = (statuses[status] or 0) + 1
  end
end

function done(summary, latency, requests)
  local errs, exh, sent = 0, 0, 0
  local codes = {}
  for _, thread in ipairs(threads) do
    errs = errs + thread:get("errors")
    exh = exh + thread:get("exhausted")
    local st = thread:get("statuses")
    for code, count in pairs(st) do codes[tostring(code)] = (codes[tostring(code)] or 0) + count end
  end
  local parts = {}
  for code, count in pairs(codes) do table.insert(parts, string.format('"%s": %d', code, count)) end
  io.write(string.format(
    'WRK_JSON {"requests": %d, "seconds": %.6f, "p50_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f, '
      .. '"socket_errors": %d, "errors": {%s}, "exhausted": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    table.concat(parts, ", "), exh))
end
