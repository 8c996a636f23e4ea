-- Reads a namespace's event log (store/redis_feed.py): the events after a
-- resume point, unless some of them were trimmed. One script, so that no
-- trim falls between the check and the read. Standalone (no common.lua):
-- both Redis stores run it.
--
-- KEYS[1]  the event stream
-- ARGV     after ('0': from the oldest kept; else an ID "ms-seq"), count
-- Returns  {'trimmed'} when events after it were trimmed, else
--          {'ok', entries...} as XRANGE returns them
local key, after, count = KEYS[1], ARGV[1], ARGV[2]
if after == '0' then
  return {'ok', redis.call('XRANGE', key, '-', '+', 'COUNT', count)}
end
local function parts(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
if redis.call('EXISTS', key) == 1 then
  local info = redis.call('XINFO', 'STREAM', key)
  for i = 1, #info, 2 do
    -- The highest ID trimmed away (never deleted otherwise).
    if info[i] == 'max-deleted-entry-id' then
      local tms, tseq = parts(info[i + 1])
      local ams, aseq = parts(after)
      if ams < tms or (ams == tms and aseq < tseq) then return {'trimmed'} end
    end
  end
end
return {'ok', redis.call('XRANGE', key, '(' .. after, '+', 'COUNT', count)}
