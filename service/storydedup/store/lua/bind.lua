-- Binds a namespace to its fingerprint settings: writes them when the
-- namespace is new, and returns what it holds (field, value, ...). A
-- namespace that exists is never written, so a setting it does not store
-- keeps meaning what it meant when the namespace was created.
-- KEYS[1] the namespace's meta hash; ARGV field, value, ...
if redis.call('exists', KEYS[1]) == 0 then
    redis.call('hset', KEYS[1], unpack(ARGV))
end
return redis.call('hgetall', KEYS[1])
