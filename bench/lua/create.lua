-- Creates tokens with names unique per round (ROUND), thread and request,
-- spread over the robots c-0 … c-(ROBOTS-1) that the harness created.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end
function init(args)
  counter = 0
  robots = tonumber(os.getenv("ROBOTS"))
  round = os.getenv("ROUND") or "0"
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = os.getenv("AUTH")
end
function request()
  counter = counter + 1
  local path = "/v1/orgs/bench/robots/c-" .. ((counter * 2 + id) % robots) .. "/tokens"
  return wrk.format(nil, path, nil, '{"name": "c' .. round .. '-' .. id .. '-' .. counter .. '"}')
end
