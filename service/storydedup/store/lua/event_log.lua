-- Appends events to a namespace's event log (a stream), prepended to the
-- scripts that write it: on one Redis common.lua's, on a Redis Cluster
-- cluster/feed.lua. An event's ID is "<ms>-<n>": the server's clock (never
-- earlier than the previous event's) and n, the count of events ever
-- logged. With n in every ID, a reader can tell whether events after its
-- resume point were trimmed (lua/events.lua): MAXLEN ~ trims whole stream
-- nodes, and XINFO says only how many.
local event_ms, event_n

local function log_event(stream, max_len, fields)
  if max_len == 0 then return end
  if not event_ms then
    event_ms, event_n = 0, 0
    local last = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)[1]
    if last then
      local ms, n = string.match(last[1], '^(%d+)-(%d+)$')
      event_ms, event_n = tonumber(ms), tonumber(n)
    end
    local now = redis.call('TIME')
    event_ms = math.max(event_ms, tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000))
  end
  event_n = event_n + 1
  local id = string.format('%d-%d', event_ms, event_n)
  redis.call('XADD', stream, 'MAXLEN', '~', max_len, id, unpack(fields))
end
