-- wrk script for bench/auth_cache.py: POST the demo model's infer body, with an API key
-- (API_KEY) and a share HIT_RATIO of requests drawn from 100 repeated inputs (cache hits
-- once warm); the others carry a fresh input each (misses). Run with one wrk thread.
local head = '{"inputs":[{"name":"input","datatype":"FP32","shape":[1,64],"data":['
local tail = string.rep(",0.5", 63) .. "]}]}"
local hit_ratio = tonumber(os.getenv("HIT_RATIO") or "0")
local key = os.getenv("API_KEY") or ""
local n = 0

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
if key ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. key
end

request = function()
  n = n + 1
  local x
  if hit_ratio > 0 and math.random() < hit_ratio then
    x = math.random(100)
  else
    x = 1000 + n
  end
  return wrk.format(nil, nil, nil, head .. x .. tail)
end
