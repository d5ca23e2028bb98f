-- What every node holds, and the directory stream's last id, read at one
-- instant: a replica built from it and then fed the stream from that id
-- misses nothing and sees nothing twice. Also the last ids of this node's
-- inbox and of `all`, where a node starting up begins to read.
-- ARGV: prefix, this node.
-- Returns {directory id, inbox id, all id, {node, {alias hex...},
-- {room hex...}, {session id, alias or '', ...}, watching 1 or 0}...}.
local p, me = ARGV[1], ARGV[2]
local function last(key)
  local top = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)
  if #top > 0 then
    return top[1][1]
  end
  return '0-0'
end
local out = { last(p .. 'directory'), last(p .. 'inbox:' .. me), last(p .. 'all') }
for _, n in ipairs(redis.call('SMEMBERS', p .. 'nodes')) do
  out[#out + 1] = { n, redis.call('SMEMBERS', p .. 'held:' .. n),
    redis.call('SMEMBERS', p .. 'rooms:' .. n), redis.call('HGETALL', p .. 'rows:' .. n),
    redis.call('SISMEMBER', p .. 'watching', n) }
end
return out
