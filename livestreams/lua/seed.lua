-- seed: rebuild a room's board from the database after gift.lua found it not all there
-- (realtime.broadcast_gift): every gifter's line, the total recounted from the scores, the
-- board marked whole; the gift's combo and seq counted and its frame published in the same
-- step; what gift.lua answers for a board that was whole back.
--
-- Keys      board, labels   the room's board (sorted set) and its labels (hash)
--           combo_key       the sender's combo of this gift in the room
--           seq_key         the room's seq counter
-- Arguments step            the gift's quantity (the combo grows by it)
--           combo_ttl       seconds a combo lasts without a gift
--           size            lines in the ranking
--           ttl             seconds an untouched board is kept
--           channel         the room's channel ('' publishes nothing)
--           frame           the gift frame (JSON), without combo, seq and ranking
--           gifters         every gifter of the room, in threes: member, coins, label
-- Returns   {combo, seq, total, score, label, …} (the top `size` lines)
--! uses: board
--! keys: board labels combo_key seq_key
--! args: step combo_ttl size ttl channel frame ...gifters
for i = 1, #gifters, 3 do
  apply(board, labels, gifters[i], tonumber(gifters[i + 1]), gifters[i + 2])
end
local sum = 0
local scores = redis.call('ZRANGE', board, 0, -1, 'WITHSCORES')
for i = 2, #scores, 2 do sum = sum - tonumber(scores[i]) end
redis.call('HSET', labels, '#total', sum, '#seeded', 1)
local out = top(board, labels, tonumber(size), ttl)
local combo, seq = counted(combo_key, step, combo_ttl, seq_key)
publish(channel, {gift_frame(frame, combo, seq, out)})
table.insert(out, 1, seq)
table.insert(out, 1, combo)
return out
