-- wrk script: POST random small operating areas as one of the parties whose tokens are in BENCH_TOKENS
-- (comma-separated); each wrk thread speaks for one party. Used by bench_workers.py.
local tokens = {}
for t in string.gmatch(os.getenv("BENCH_TOKENS") or "", "[^,]+") do table.insert(tokens, t) end
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("token", tokens[(counter - 1) % #tokens + 1])
  thread:set("seed", counter)
end

function init(args)
  math.randomseed(seed * 7919)
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. token
  statuses = {}
end

function request()
  local lon = 36 + math.random() * 11
  local lat = 30 + math.random() * 9
  local d = 0.005 + math.random() * 0.02
  local hour = math.random(0, 160)
  local body = string.format(
    '{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[%.5f,%.5f],[%.5f,%.5f],[%.5f,%.5f],[%.5f,%.5f],[%.5f,%.5f]]]},'
    .. '"properties":{"kind":"area","name":"wrk","start":"2027-01-04T%02d:00:00Z","end":"2027-01-05T%02d:00:00Z","audience":"conflicts"}}',
    lon - d, lat - d, lon + d, lat - d, lon + d, lat + d, lon - d, lat + d, lon - d, lat - d, hour % 24, hour % 24)
  return wrk.format("POST", "/v1/declarations", nil, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  io.write(string.format("WRK_RESULT %d %d %.3f %.3f %d\n", summary.requests, summary.duration,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
