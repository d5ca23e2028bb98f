-- Removes every node whose lease ran out: its claims, its directory
-- entries, its inbox; appends `ng` (node gone) to the directory stream.
-- Every node runs it; a node already reaped is no longer in `nodes`, so
-- running it twice does nothing more. ARGV: prefix, maxlen.
-- Returns the ids of the nodes reaped.
local p, maxlen = ARGV[1], ARGV[2]
local gone = {}
for _, n in ipairs(redis.call('SMEMBERS', p .. 'nodes')) do
  if redis.call('EXISTS', p .. 'node:' .. n) == 0 then
    local flat = redis.call('HGETALL', p .. 'sessions:' .. n)
    for i = 1, #flat, 2 do
      local akey = p .. 'alias:' .. flat[i + 1]
      if redis.call('HGET', akey, flat[i]) == n then
        redis.call('HDEL', akey, flat[i])
      end
    end
    redis.call('DEL', p .. 'sessions:' .. n, p .. 'held:' .. n,
      p .. 'rooms:' .. n, p .. 'inbox:' .. n)
    redis.call('SREM', p .. 'nodes', n)
    redis.call('XADD', p .. 'directory', 'MAXLEN', '~', maxlen, '*',
      'v', '1', 'k', 'ng', 'n', n)
    gone[#gone + 1] = n
  end
end
return gone
