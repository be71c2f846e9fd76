-- seed: rebuild a room's board from the database after gift.lua found it not all there
-- (realtime.broadcast_gift): every gifter's line, the total recounted from the scores, the
-- board marked whole; the gift's seq counted and its frame published in the same step; the
-- seq and the new top and total back.
--
-- Keys      board, labels   the room's board (sorted set) and its labels (hash)
--           seq_key         the room's seq counter
-- Arguments size            lines in the ranking
--           ttl             seconds an untouched board is kept
--           channel         the room's channel ('' publishes nothing)
--           frame           the gift frame (JSON), without combo, seq and ranking
--           combo           what gift.lua counted for the gift
--           gifters         every gifter of the room, in threes: member, coins, label
-- Returns   {seq, total, score, label, …} (the top `size` lines)
--! uses: board
--! keys: board labels seq_key
--! args: size ttl channel frame combo ...gifters
for i = 1, #gifters, 3 do
  apply(board, labels, gifters[i], tonumber(gifters[i + 1]), gifters[i + 2])
end
local sum = 0
local scores = redis.call('ZRANGE', board, 0, -1, 'WITHSCORES')
for i = 2, #scores, 2 do sum = sum - tonumber(scores[i]) end
redis.call('HSET', labels, '#total', sum, '#seeded', 1)
local out = top(board, labels, tonumber(size), ttl)
local seq = redis.call('INCRBY', seq_key, 1)
publish(channel, {gift_frame(frame, combo, seq, out)})
table.insert(out, 1, seq)
return out
