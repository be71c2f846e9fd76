-- broadcast: stamp the room's next seq numbers on frames and publish them (realtime.broadcast).
--
-- Keys      seq_key     the room's seq counter
-- Arguments channel     the channel-layer channel of the room ('' publishes nothing)
--           frames      the frames, each a JSON object's text
-- Returns   the last seq number stamped
--! uses: publish
--! keys: seq_key
--! args: channel ...frames
local n = #frames
local last = redis.call('INCRBY', seq_key, n)
local stamped = {}
for i = 1, n do stamped[i] = stamp(frames[i], '"seq":' .. (last - n + i)) end
publish(channel, stamped)
return last
