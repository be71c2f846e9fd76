-- publish: a library the room scripts include (`--! uses: publish`), no keys or arguments.
--
-- With the channel layer on the cache's Redis (settings: one host, the same server, JSON
-- messages), a script that stamps `seq` numbers also publishes the frames, in the channel
-- layer's own message format: numbering and sending are one step, so a room's frames go out
-- in `seq` order whichever process sent them, and the send costs no round trip or
-- event-loop turn of its own. Frames arrive as JSON objects and fields are put in front of
-- their text, so nothing is parsed or re-encoded; the message carries each frame as the text
-- every viewer is sent (realtime/events.py, _send).
local function stamp(json, fields)
  return '{' .. fields .. ',' .. string.sub(json, 2)
end
local function publish(channel, frames)
  if channel ~= '' then
    for i = 1, #frames do frames[i] = cjson.encode(frames[i]) end
    redis.call('PUBLISH', channel, '{"type":"room.events","frames":[' .. table.concat(frames, ',') .. ']}')
  end
end
