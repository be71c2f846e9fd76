-- gift: one committed gift in a room (realtime.broadcast_gift): the sender's line on the
-- room's board updated, combo and seq counted, the gift frame with the room's new ranking
-- published, the new top and total back. When the room's board is not all there (new,
-- expired or evicted) nothing is counted or sent and {} comes back: seed.lua rebuilds the
-- board from the database, counts and sends. (A seq taken here and published there, a
-- database read later, let another frame of the room go out between them with a higher
-- seq; a viewer then dropped the gift as already seen.)
--
-- Keys      combo_key   the sender's combo of this gift in the room
--           seq_key     the room's seq counter
--           board       the room's board (sorted set) and its labels (hash)
--           labels
-- Arguments step        the gift's quantity (the combo grows by it)
--           combo_ttl   seconds a combo lasts without a gift
--           member      the sender's StreamGifter row, as the board's member
--           coins       that row's new running total
--           label       how the sender shows in rankings (JSON)
--           size        lines in the ranking
--           ttl         seconds an untouched board is kept
--           frame       the gift frame (JSON), without combo, seq and ranking
--           channel     the room's channel ('' publishes nothing)
-- Returns   {combo, seq, total, score, label, score, label, …} (the top `size` lines),
--           or {} for seed.lua to go on with
--! uses: board
--! keys: combo_key seq_key board labels
--! args: step combo_ttl member coins label size ttl frame channel
apply(board, labels, member, tonumber(coins), label)
if redis.call('HEXISTS', labels, '#seeded') == 0 then
  redis.call('EXPIRE', board, ttl)
  redis.call('EXPIRE', labels, ttl)
  return {}
end
local combo, seq = counted(combo_key, step, combo_ttl, seq_key)
local out = top(board, labels, tonumber(size), ttl)
publish(channel, {gift_frame(frame, combo, seq, out)})
table.insert(out, 1, seq)
table.insert(out, 1, combo)
return out
