-- board: a library the gift scripts include (`--! uses: board`), no keys or arguments.
--
-- The room's board on Redis: a sorted set of gifter row ids scored by minus their running
-- total (so ZRANGE gives the most coins first and, on a tie, the oldest row, as the
-- database's ranking does) and a hash of their labels plus '#total' (the sum of every score)
-- and '#seeded' (the board holds every gifter of the room). Totals only grow, so a line
-- takes the larger of what it had and what it is given: updates may land in any order, and
-- a rebuild from the database never takes a newer total back.
--! uses: publish
local function apply(board, labels, member, coins, label)
  local old = redis.call('ZSCORE', board, member)
  old = old and -tonumber(old) or 0
  if coins > old then
    redis.call('ZADD', board, -coins, member)
    redis.call('HINCRBY', labels, '#total', coins - old)
  end
  redis.call('HSET', labels, member, label)
end
-- The gift's combo (the sender's streak of this gift, ended by a pause of combo_ttl) and the
-- room's next seq, counted in the script that publishes the gift: a room's frames go out in
-- seq order, and a run's combos in the order of their frames.
local function counted(combo_key, step, combo_ttl, seq_key)
  local combo = redis.call('INCRBY', combo_key, step)
  if combo == tonumber(step) then redis.call('EXPIRE', combo_key, combo_ttl) end
  return combo, redis.call('INCRBY', seq_key, 1)
end
local function gift_frame(gift, combo, seq, answer)
  local lines = {}
  for i = 2, #answer, 2 do
    local coins = string.sub(answer[i], 1, 1) == '-' and string.sub(answer[i], 2) or answer[i]
    lines[#lines + 1] = stamp(answer[i + 1], '"coins":' .. coins)
  end
  local ranking = '{"top":[' .. table.concat(lines, ',') .. '],"coins":' .. answer[1] .. '}'
  return stamp(gift, '"combo":' .. combo .. ',"seq":' .. seq .. ',"ranking":' .. ranking)
end
local function top(board, labels, size, ttl)
  redis.call('EXPIRE', board, ttl)
  redis.call('EXPIRE', labels, ttl)
  local rows = redis.call('ZRANGE', board, 0, size - 1, 'WITHSCORES')
  local out = {redis.call('HGET', labels, '#total') or '0'}
  for i = 1, #rows, 2 do
    out[#out + 1] = rows[i + 1]
    -- (a label lost on its own would show as Anonymous, never as someone else)
    out[#out + 1] = redis.call('HGET', labels, rows[i]) or '{"handle":null,"name":"Anonymous","anonymous":true}'
  end
  return out
end
