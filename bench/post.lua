-- wrk script of bench/submit.py: POST one JSON body, rotating bearer tokens, and print the
-- results as one JSON line (BENCH_JSON {...}) when the run is done.
--
--   wrk -t1 -c16 -d10s -s bench/post.lua http://127.0.0.1:8000 -- /v1/reports body.json tokens.txt 1
--
-- Arguments: path, body file, tokens file ("-" for none: no Authorization header), number of wrk
-- threads. Each thread takes its own share of the tokens (line i goes to thread i mod threads)
-- and uses them in turn, so with more tokens than connections no two requests in flight carry
-- the same token.

local threads = {}
local next_index = 0

function setup(thread)
  thread:set("thread_index", next_index)
  next_index = next_index + 1
  table.insert(threads, thread)
end

function init(args)
  path = args[1]
  local file = assert(io.open(args[2], "rb"))
  body = file:read("*a")
  file:close()
  local thread_count = tonumber(args[4] or "1")
  tokens = {}
  if args[3] and args[3] ~= "-" then
    local line_number = 0
    for line in io.lines(args[3]) do
      if #line > 0 then
        if line_number % thread_count == thread_index then
          tokens[#tokens + 1] = line
        end
        line_number = line_number + 1
      end
    end
  end
  turn = 0
  non_2xx = 0
  statuses = {}
end

function request()
  local headers = { ["Content-Type"] = "application/json" }
  if #tokens > 0 then
    headers["Authorization"] = "Bearer " .. tokens[(turn % #tokens) + 1]
    turn = turn + 1
  end
  return wrk.format("POST", path, headers, body)
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non_2xx = non_2xx + 1
    local key = tostring(status)
    statuses[key] = (statuses[key] or 0) + 1
  end
end

function done(summary, latency, requests)
  local non_2xx_total = 0
  local merged = {}
  for _, thread in ipairs(threads) do
    non_2xx_total = non_2xx_total + thread:get("non_2xx")
    for status, count in pairs(thread:get("statuses")) do
      merged[status] = (merged[status] or 0) + count
    end
  end
  local by_status = {}
  for status, count in pairs(merged) do
    by_status[#by_status + 1] = string.format('"%s":%d', status, count)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"non_2xx":%d,"statuses":{%s},'
      .. '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,'
      .. '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, non_2xx_total, table.concat(by_status, ","),
    e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean
  ))
end
