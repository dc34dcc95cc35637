-- wrk script of the throughput scenarios: every request of one kind.
--
-- Environment (besides common.lua's):
--   BENCH_KIND   fixed | list | get | post | patch | login
--   BENCH_PATH   the path of "fixed" and "list" requests
--   BENCH_TOKEN  the bearer token of "fixed" requests (none when unset)
--   BENCH_THINK_MIN_MS, BENCH_THINK_MAX_MS   optional think time between requests
--                (then run one connection per wrk thread: see common.lua)
-- "list", "get", "post" and "patch" use a random user of BENCH_USERS per request;
-- "login" a random email of BENCH_LOGINS.

package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local common = require("common")

local kind = os.getenv("BENCH_KIND")
local threads, created = {}, 0

function setup(thread)
  created = created + 1
  thread:set("number", created)
  threads[#threads + 1] = thread
end

local users, emails, fixed_request, path

function init(args)
  common.start_thread(number)
  common.stagger()
  path = os.getenv("BENCH_PATH")
  if kind == "fixed" then
    fixed_request = common.build.fixed(nil, path, os.getenv("BENCH_TOKEN"))
  elseif kind == "login" then
    emails = common.read_lines(os.getenv("BENCH_LOGINS"))
  else
    users = common.read_users(os.getenv("BENCH_USERS"))
  end
end

delay = common.think_time()

function request()
  common.sent()
  common.count_kind(kind)
  if fixed_request then return fixed_request end
  if emails then return common.build.login(common.pick(emails)) end
  return common.build[kind](common.pick(users), path)
end

response = common.response

function done(summary, latency, requests)
  common.write_result(summary, latency, threads)
end
