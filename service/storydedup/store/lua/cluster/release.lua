-- Deletes a key only when it still holds the caller's value: a lock that
-- is still the caller's, or a record that was not rewritten meanwhile.
--
-- KEYS[1]  the key
-- ARGV[1]  the value the caller wrote or read
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
