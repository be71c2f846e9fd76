-- count: add to several counters in one round trip (realtime/scripts.py, _count).
--
-- Keys      counters    the counters
-- Arguments steps       for each counter, two: what to add, and the expiry (seconds, 0 for
--                       none) it is given when this call made it (its value equals the step)
-- Returns   each counter's new value, in order
--! keys: ...counters
--! args: ...steps
local out = {}
for i, key in ipairs(counters) do
  local by, ttl = tonumber(steps[2 * i - 1]), tonumber(steps[2 * i])
  local value = redis.call('INCRBY', key, by)
  if value == by and ttl > 0 then redis.call('EXPIRE', key, ttl) end
  out[i] = value
end
return out
