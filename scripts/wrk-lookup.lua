-- wrk script: GET /v1/users/loadNNNNNNN for random users among the USERS
-- (default 1,000,000) that tracker-load made.
--   USERS=1000000 wrk -t1 -c32 -d10s -s scripts/wrk-lookup.lua http://127.0.0.1:PORT
local users = tonumber(os.getenv("USERS") or "1000000")
math.randomseed(os.time())
request = function()
  return wrk.format("GET", string.format("/v1/users/load%07d", math.random(0, users - 1)))
end
