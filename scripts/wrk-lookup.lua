-- wrk script: GET /v1/users/load0000000..load0999999 at random (users made by tracker-load).
-- wrk -t1 -c32 -d10s -s scripts/wrk-lookup.lua http://127.0.0.1:PORT
math.randomseed(os.time())
request = function()
  return wrk.format("GET", string.format("/v1/users/load%07d", math.random(0, 999999)))
end
