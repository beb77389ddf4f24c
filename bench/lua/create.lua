-- Creates tokens with names unique per thread and request.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end
function init(args)
  counter = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = os.getenv("AUTH")
end
function request()
  counter = counter + 1
  return wrk.format(nil, nil, nil, '{"name": "c' .. id .. '-' .. counter .. '"}')
end
