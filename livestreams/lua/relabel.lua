-- relabel: a gifter's label changed (their name, or they left the rankings): their line on
-- the room's board shows it, on a board that exists only (realtime.board_relabel).
--
-- Keys      labels      the room's board labels (hash)
-- Arguments member      the gifter's StreamGifter row, as the board's member
--           label       the new label (JSON)
--! keys: labels
--! args: member label
if redis.call('HEXISTS', labels, '#seeded') == 1 then redis.call('HSET', labels, member, label) end
