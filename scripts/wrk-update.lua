-- wrk script: PUT the signed updates tracker-load --write-updates wrote to
-- UPDATES, each once. Thread t of WRK_THREADS (wrk -t, default 2) sends
-- lines t+1, t+1+WRK_THREADS, ... in order; a thread that runs out sends
-- PUT /v1/users/- (refused, 400), which wrk counts as non-2xx, so that no
-- update is ever replayed. Sign at least as many updates as the run can
-- send (tracker-load prints how many it signed).
--   tracker-load --users 100000 --preload=false --lookups 0 --updates 300000 --write-updates /tmp/u.txt
--   UPDATES=/tmp/u.txt wrk -t2 -c256 -d10s -s scripts/wrk-update.lua http://127.0.0.1:PORT
local threads = 0

function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

local reqs, n, pos = {}, 0, 1
local spent = wrk.format("PUT", "/v1/users/-", { ["Content-Type"] = "application/json" }, "{}")

function init(args)
  local file = assert(os.getenv("UPDATES"), "set UPDATES to a file of tracker-load --write-updates")
  local nthreads = tonumber(os.getenv("WRK_THREADS") or "2")
  local headers = { ["Content-Type"] = "application/json" }
  local i = 0
  for line in io.lines(file) do
    if i % nthreads == id then
      local sp = line:find(" ", 1, true)
      n = n + 1
      reqs[n] = wrk.format("PUT", line:sub(1, sp - 1), headers, line:sub(sp + 1))
    end
    i = i + 1
  end
end

function request()
  if pos > n then
    return spent
  end
  local r = reqs[pos]
  reqs[pos] = nil
  pos = pos + 1
  return r
end
