-- wrk script of the end-to-end benchmark: every request carries the cookie of the next logged-in
-- session, in a cycle through all of them, so that each request is a real session lookup.
--   wrk -t1 -c16 -d5s -s cycle.lua http://127.0.0.1:18000 -- /read /tmp/cookies.txt
-- The cookie file holds one `name=value` per line. The requests are formatted once, in init().
-- done() prints one line, `WRK_RESULT {json}`, that the harness reads (times in microseconds).

local threads = 0

function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

local requests = {}
local count = 0
local index = 0

function init(args)
  local path, file = args[1], args[2]
  if path == nil or file == nil then
    error("usage: wrk ... -s cycle.lua URL -- PATH COOKIE_FILE")
  end
  for line in io.lines(file) do
    if line ~= "" then
      count = count + 1
      requests[count] = wrk.format("GET", path, { Cookie = line })
    end
  end
  if count == 0 then
    error("no cookies in " .. file)
  end
  -- Threads start at different places of the cycle.
  math.randomseed(os.time() + (id or 0))
  index = math.random(0, count - 1)
end

function request()
  index = index % count + 1
  return requests[index]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,' ..
      '"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max))
end
