-- wrk script for the benchmark's OIDC workloads; bench/bench.py sets the environment.
--   BENCH_MODE   code      POST token, grant_type=authorization_code, one fresh code a request
--                refresh   POST token, grant_type=refresh_token, one fresh refresh token a request
--                userinfo  GET with a bearer access token (reusable: cycled)
--                get       plain GET (discovery, JWKS)
--   BENCH_INPUT  codes (code), "access refresh" lines (refresh, userinfo)
--   BENCH_OUTPUT where code mode writes the "access refresh" pairs it receives
--   BENCH_BASIC  the client's HTTP Basic credentials (base64)
--   BENCH_REDIRECT_URI
--   BENCH_TIMES  where single-use modes write "responses seconds" when their inputs run out
-- Single-use inputs are never sent twice (a replayed code or refresh token revokes its
-- grant): when they run out the thread stops and writes BENCH_TIMES, because wrk's own
-- duration is always the full -d. done() prints one JSON line.

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clock, bench_timespec *ts);
]]
local CLOCK_MONOTONIC = 1

local function monotonic()
  local ts = ffi.new("bench_timespec")
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

local mode = os.getenv("BENCH_MODE") or "get"
local inputs = {}
local next_input = 1
local captured
local started
local answered = 0

local function form_escape(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

function init(_)
  local input = os.getenv("BENCH_INPUT")
  if input then
    for line in io.lines(input) do
      if line ~= "" then inputs[#inputs + 1] = line end
    end
  end
  if mode == "code" then
    captured = assert(io.open(os.getenv("BENCH_OUTPUT"), "w"))
    captured:setvbuf("line")
  end
  if mode == "code" or mode == "refresh" then
    wrk.headers["Authorization"] = "Basic " .. os.getenv("BENCH_BASIC")
    wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  end
end

local function take()
  local item = inputs[next_input]
  next_input = next_input + 1
  return item
end

-- Plain GETs keep wrk's static request: no Lua call per request on the load core.
local function dynamic_request()
  if mode == "userinfo" then
    local pair = inputs[(next_input % #inputs) + 1]
    next_input = next_input + 1
    local access = pair:match("^(%S+)")
    return wrk.format("GET", nil, { ["Authorization"] = "Bearer " .. access })
  end
  started = started or monotonic()
  local item = take()
  if item == nil then
    -- Out of single-use inputs: stop; this last request carries an unknown code, which
    -- is refused without revoking anything.
    if next_input == #inputs + 2 then
      local times = assert(io.open(os.getenv("BENCH_TIMES"), "w"))
      times:write(string.format("%d %.6f\n", answered, monotonic() - started))
      times:close()
    end
    wrk.thread:stop()
    item = "exhausted exhausted"
  end
  if mode == "code" then
    return wrk.format("POST", nil, nil, "grant_type=authorization_code&code=" ..
      form_escape(item) .. "&redirect_uri=" .. form_escape(os.getenv("BENCH_REDIRECT_URI")))
  end
  local refresh = item:match("%S+%s+(%S+)") or item
  return wrk.format("POST", nil, nil,
    "grant_type=refresh_token&refresh_token=" .. form_escape(refresh))
end

if mode ~= "get" then request = dynamic_request end

if mode == "code" or mode == "refresh" then
  function response(status, _, body)
    answered = answered + 1
    if mode == "code" and status == 200 then
      local access = body:match('"access_token":"([^"]+)"')
      local refresh = body:match('"refresh_token":"([^"]+)"')
      if access and refresh then captured:write(access, " ", refresh, "\n") end
    end
  end
end

function done(summary, latency, _)
  local errors = summary.errors
  io.write(string.format(
    '{"requests":%d,"seconds":%.3f,"non2xx":%d,"socket_errors":%d,"p50_ms":%.3f,"p99_ms":%.3f}\n',
    summary.requests, summary.duration / 1e6, errors.status,
    errors.connect + errors.read + errors.write + errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
