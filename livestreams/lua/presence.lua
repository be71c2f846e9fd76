-- presence: connections join or leave a room, and connections no process renewed in time
-- stop counting (realtime viewers_join / viewers_leave / presence_beat).
--
-- Keys      present     the room's connections (sorted set scored by when last vouched for)
-- Arguments now         the time (seconds since the epoch)
--           action      'join' (or renew) or 'leave'
--           ttl         seconds a connection counts without being renewed
--           connections the connections (channel names)
-- Returns   the room's viewer count
--! keys: present
--! args: now action ttl ...connections
local t, keep = tonumber(now), tonumber(ttl)
for i = 1, #connections do
  if action == 'join' then redis.call('ZADD', present, t, connections[i]) else redis.call('ZREM', present, connections[i]) end
end
redis.call('ZREMRANGEBYSCORE', present, '-inf', t - keep)
redis.call('EXPIRE', present, keep)
return redis.call('ZCARD', present)
