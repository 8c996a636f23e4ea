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
-- IDs are "<ms>-<n>", n counting the events ever logged (event_log.lua):
-- events after the resume point were trimmed when it is older than the
-- first event kept and that one's n is not the next.
local first = redis.call('XRANGE', key, '-', '+', 'COUNT', 1)[1]
if first then
  local fms, fn = parts(first[1])
  local ams, an = parts(after)
  if (ams < fms or (ams == fms and an < fn)) and an < fn - 1 then return {'trimmed'} end
end
return {'ok', redis.call('XRANGE', key, '(' .. after, '+', 'COUNT', count)}
