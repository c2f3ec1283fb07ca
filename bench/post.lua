-- wrk script of bench/submit.py: POST one body, and print the results as one JSON line
-- (BENCH_JSON {...}) when the run is done.
--
--   wrk -t1 -c16 -d10s -s bench/post.lua http://127.0.0.1:8000 -- \
--       path=/v1/reports body=body.json tokens=tokens.txt threads=1 \
--       content_type=application/json unique=3fa9c1 idempotency=1
--
-- Arguments (name=value):
--   path          the path to POST to
--   body          file holding the body; every "BENCHSEQ" in it is replaced, per request, by
--                 a unique id (FixMyStreet's report URL in an Open311 description, say)
--   tokens        file of bearer tokens, one a line, or "-" for no Authorization header. Each
--                 thread takes its own share (line i goes to thread i mod threads) and uses them
--                 in turn, so with more tokens than connections no two requests in flight
--                 carry the same token
--   threads       the number of wrk threads (-t)
--   content_type  the Content-Type header (default application/json)
--   unique        a random prefix (one per wrk run) of the unique ids: prefix-thread-counter
--                 is unique across threads, rounds and runs
--   idempotency   1: each request carries a fresh Idempotency-Key (the unique id)
--
-- Peak load only: the run at a fixed offered load is bench/submit.py's own paced client (wrk's
-- delay() holds a connection open and idle, which pins one of gunicorn's sync workers).

-- main state: one entry per thread
local threads = {}
local next_index = 0

function setup(thread)
  thread:set("thread_index", next_index)
  next_index = next_index + 1
  table.insert(threads, thread)
end

local function options(args)
  local found = {}
  for _, arg in ipairs(args) do
    local name, value = arg:match("^([%w_]+)=(.*)$")
    assert(name, "expected name=value, got " .. arg)
    found[name] = value
  end
  return found
end

local function read_file(name)
  local file = assert(io.open(name, "rb"))
  local text = file:read("*a")
  file:close()
  return text
end

local function my_tokens(name, thread_count)
  local mine = {}
  if name == nil or name == "-" then
    return mine
  end
  local line_number = 0
  for line in io.lines(name) do
    if #line > 0 then
      if line_number % thread_count == thread_index then
        mine[#mine + 1] = line
      end
      line_number = line_number + 1
    end
  end
  return mine
end

function init(args)
  local opts = options(args)
  local thread_count = tonumber(opts.threads or "1")
  path = opts.path
  body = read_file(opts.body)
  templated = body:find("BENCHSEQ", 1, true) ~= nil
  content_type = opts.content_type or "application/json"
  idempotency = opts.idempotency == "1"
  unique_prefix = (opts.unique or "bench") .. "-" .. thread_index .. "-"
  tokens = my_tokens(opts.tokens, thread_count)
  turn = 0
  counter = 0
  statuses = {}
  replayed = 0
end

function request()
  counter = counter + 1
  local id = unique_prefix .. counter
  local headers = { ["Content-Type"] = content_type }
  if #tokens > 0 then
    headers["Authorization"] = "Bearer " .. tokens[(turn % #tokens) + 1]
    turn = turn + 1
  end
  if idempotency then
    headers["Idempotency-Key"] = id
  end
  local payload = body
  if templated then
    payload = body:gsub("BENCHSEQ", id)
  end
  return wrk.format("POST", path, headers, payload)
end

local function count(status, headers)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  if headers["Idempotent-Replayed"] or headers["idempotent-replayed"] then
    replayed = replayed + 1
  end
end

function response(status, headers, body)
  count(status, headers)
end

function done(summary, latency, requests)
  local merged = {}
  local replayed_total = 0
  for _, thread in ipairs(threads) do
    replayed_total = replayed_total + thread:get("replayed")
    for status, n in pairs(thread:get("statuses")) do
      merged[status] = (merged[status] or 0) + n
    end
  end
  local by_status = {}
  local non_2xx = 0
  for status, n in pairs(merged) do
    by_status[#by_status + 1] = string.format('"%s":%d', status, n)
    local code = tonumber(status)
    if code < 200 or code > 299 then
      non_2xx = non_2xx + n
    end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"non_2xx":%d,"statuses":{%s},"replayed":%d,'
      .. '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,'
      .. '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, non_2xx, table.concat(by_status, ","), replayed_total,
    e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean
  ))
end
