-- Shared parts of the benchmark's wrk scripts (requests.lua, users.lua).
--
-- Environment (set by bench/load.py):
--   BENCH_USERS     file of "<access token> <task id> <task id> ..." lines
--   BENCH_LOGINS    file of emails, one per line (login requests)
--   BENCH_PASSWORD  the seeded users' password
--   BENCH_RESULT    where done() writes the run's result as JSON
-- Every thread counts the statuses it receives (global `statuses`) and the kinds
-- of request it sends (global `kinds`); done() adds them up over the threads.
-- Latencies are in microseconds in wrk and written in milliseconds.

local common = {}

function common.read_lines(path)
  local lines = {}
  local file = assert(io.open(path, "r"), "cannot read " .. tostring(path))
  for line in file:lines() do
    if line ~= "" then lines[#lines + 1] = line end
  end
  file:close()
  return lines
end

-- {{token = "...", ids = {"12", "34"}}, ...}
function common.read_users(path)
  local users = {}
  for _, line in ipairs(common.read_lines(path)) do
    local user = {ids = {}}
    for field in line:gmatch("%S+") do
      if not user.token then
        user.token = field
      elseif field:sub(1, 1) == "L" then
        user.list = field:sub(2)  -- the user's Inbox list id
      else
        user.ids[#user.ids + 1] = field
      end
    end
    users[#users + 1] = user
  end
  return users
end

local function headers(token, body)
  local result = {Accept = "application/json"}
  if token then result.Authorization = "Bearer " .. token end
  if body then result["Content-Type"] = "application/json" end
  return result
end

-- Revalidation, as a browser's HTTP cache does (users scenario with
-- BENCH_REVALIDATE=1): the ETag of each GET URL's last 200 is kept per thread
-- (one thread is one user there) and sent back as If-None-Match; a 304 answers
-- with no body. `pending` is the URL of the request in flight.
local revalidate = os.getenv("BENCH_REVALIDATE") == "1"
local etags, pending = {}, nil

local function get(path, token)
  local result = headers(token)
  pending = path
  if revalidate and etags[path] then result["If-None-Match"] = etags[path] end
  return wrk.format("GET", path, result)
end

local sent = 0

local function pick(list) return list[math.random(#list)] end

-- The requests, by kind. `user` is {token, ids}; `path` a fixed path.
common.build = {
  fixed = function(_, path, token) return wrk.format("GET", path, headers(token)) end,
  list = function(user, path)
    return get(user.list and path:gsub("{list_id}", user.list) or path, user.token)
  end,
  get = function(user) return get("/api/v1/tasks/" .. pick(user.ids), user.token) end,
  post = function(user)
    pending = nil
    sent = sent + 1
    local body = string.format('{"title": "Bench task %d", "priority": "medium", '
      .. '"due_at": "2030-01-31T17:00:00+00:00", "tags": ["Work"]}', sent)
    return wrk.format("POST", "/api/v1/tasks", headers(user.token, true), body)
  end,
  patch = function(user)
    pending = nil
    sent = sent + 1
    local body = string.format('{"title": "Renamed by the benchmark %d"}', sent)
    return wrk.format("PATCH", "/api/v1/tasks/" .. pick(user.ids), headers(user.token, true),
                      body)
  end,
  login = function(email)
    local body = string.format('{"email": "%s", "password": "%s"}', email,
                               os.getenv("BENCH_PASSWORD"))
    return wrk.format("POST", "/api/v1/auth/login", headers(nil, true), body)
  end,
}

function common.pick(list) return pick(list) end

-- Per thread: random seed and counters (called from init()).
function common.start_thread(number)
  math.randomseed(os.time() * 1000 + number)
  statuses, kinds = {}, {}
end

function common.count_kind(kind) kinds[kind] = (kinds[kind] or 0) + 1 end

-- Think time: wrk calls delay() before every request, including a connection's
-- first. A user opens a connection when it has a request to send, so the first
-- request of a connection goes at once (an idle new connection would hold a
-- gunicorn gthread thread while it waits for data: not what real clients do).
-- Only for loads with one connection per wrk thread (-t N -c N), where the
-- thread's state is the connection's:
--   * after a "Connection: close" response that ends a kept-alive connection (a
--     worker stopping after GUNICORN_MAX_REQUESTS) wrk reconnects: the next
--     request goes at once. A server that closes after every response (gunicorn's
--     sync workers) keeps the think times, spent on a new idle connection: wrk
--     cannot open a connection late;
--   * when the server closes the connection during the think time, wrk
--     reconnects and asks for a delay again while the first one still runs; that
--     first timer sends the request, the second delay must never fire.
-- Think times are uniform in [BENCH_THINK_MIN_MS, BENCH_THINK_MAX_MS]; nil
-- (no delay() at all) when those are unset.
local NEVER_MS = 24 * 3600 * 1000
local thinking, at_once, answered = false, true, 0

function common.think_time()
  local low, high = tonumber(os.getenv("BENCH_THINK_MIN_MS")),
                    tonumber(os.getenv("BENCH_THINK_MAX_MS"))
  if not low then return nil end
  return function()
    if thinking then return NEVER_MS end
    thinking = true
    if at_once then
      at_once = false
      return 0
    end
    return math.random(low, high)
  end
end

-- Called by every request(): the think time (if any) is over.
function common.sent() thinking = false end

function common.response(status, headers)
  statuses[status] = (statuses[status] or 0) + 1
  if revalidate and pending and status == 200 and headers then
    etags[pending] = headers["ETag"] or headers["etag"]
  end
  answered = answered + 1
  local connection = headers and (headers["Connection"] or headers["connection"])
  if connection and connection:lower() == "close" then
    at_once = answered > 1
    answered = 0
  end
end

-- wrk creates its threads one after the other and calls init() in between:
-- sleeping BENCH_STAGGER_US microseconds there spreads the connections' starts.
local ffi = require("ffi")
ffi.cdef("int usleep(unsigned int usec);")

function common.stagger()
  local us = tonumber(os.getenv("BENCH_STAGGER_US") or "")
  if us and us > 0 then ffi.C.usleep(us) end
end

local function json_counts(counts)
  local parts = {}
  for key, value in pairs(counts) do
    parts[#parts + 1] = string.format('"%s": %d', tostring(key), value)
  end
  return "{" .. table.concat(parts, ", ") .. "}"
end

-- Called from done() in wrk's main Lua state with the threads kept by setup().
function common.write_result(summary, latency, threads)
  local statuses_total, kinds_total = {}, {}
  for _, thread in ipairs(threads) do
    for key, n in pairs(thread:get("statuses") or {}) do
      statuses_total[key] = (statuses_total[key] or 0) + n
    end
    for key, n in pairs(thread:get("kinds") or {}) do
      kinds_total[key] = (kinds_total[key] or 0) + n
    end
  end
  local e = summary.errors
  local ms = function(us) return us / 1000.0 end
  local out = assert(io.open(os.getenv("BENCH_RESULT"), "w"))
  out:write(string.format(
    '{"requests": %d, "duration_s": %.6f, "bytes": %d, "threads": %d,\n'
    .. ' "errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d, "status": %d},\n'
    .. ' "latency_ms": {"mean": %.3f, "stdev": %.3f, "min": %.3f, "max": %.3f, '
    .. '"p50": %.3f, "p90": %.3f, "p95": %.3f, "p99": %.3f, "p999": %.3f},\n'
    .. ' "statuses": %s, "kinds": %s}\n',
    summary.requests, summary.duration / 1e6, summary.bytes, #threads,
    e.connect, e.read, e.write, e.timeout, e.status,
    ms(latency.mean), ms(latency.stdev), ms(latency.min), ms(latency.max),
    ms(latency:percentile(50)), ms(latency:percentile(90)), ms(latency:percentile(95)),
    ms(latency:percentile(99)), ms(latency:percentile(99.9)),
    json_counts(statuses_total), json_counts(kinds_total)))
  out:close()
end

return common
