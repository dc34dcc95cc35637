-- wrk script of the concurrent-users scenario: run with as many wrk threads as
-- connections (-t N -c N), so that each connection is one user with one token.
--
-- Each user waits a think time (BENCH_THINK_MIN_MS..BENCH_THINK_MAX_MS, drawn
-- per request; see common.lua) before each request but its connection's first, and
-- BENCH_STAGGER_US between the users' starts; it sends a mix of
-- 80% reads and 20% writes: 40% list (BENCH_PATH, a page of 20), 40% GET one of
-- its own tasks, 10% POST a task, 10% PATCH the title of one of its own tasks.
-- wrk measures latency from sending to the response, without the think time.

package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local common = require("common")

local threads, all_users = {}, nil

function setup(thread)
  all_users = all_users or common.read_users(os.getenv("BENCH_USERS"))
  local user = all_users[#threads % #all_users + 1]
  threads[#threads + 1] = thread
  thread:set("number", #threads)
  thread:set("token", user.token)
  thread:set("ids", user.ids)
end

local user, path

function init(args)
  common.start_thread(number)
  common.stagger()
  user, path = {token = token, ids = ids}, os.getenv("BENCH_PATH")
end

delay = common.think_time()

function request()
  common.sent()
  local draw, kind = math.random(100), "list"
  if draw > 90 then kind = "patch" elseif draw > 80 then kind = "post"
  elseif draw > 40 then kind = "get" end
  common.count_kind(kind)
  return common.build[kind](user, path)
end

response = common.response

function done(summary, latency, requests)
  common.write_result(summary, latency, threads)
end
