-- A client's message to an alias its node's replica knows no holder of
-- (the replica may lag behind a claim elsewhere): carry it to the inbox
-- of every live node holding the alias now, or say that none does.
-- ARGV: prefix, alias hex, maxlen, then the entry's field/value pairs.
-- Returns how many nodes it went to; 0 means nobody holds the alias.
local p, hex, maxlen = ARGV[1], ARGV[2], ARGV[3]
local flat = redis.call('HGETALL', p .. 'alias:' .. hex)
local sent, count = {}, 0
for i = 2, #flat, 2 do
  local n = flat[i]
  if not sent[n] and redis.call('EXISTS', p .. 'node:' .. n) == 1 then
    sent[n] = true
    redis.call('XADD', p .. 'inbox:' .. n, 'MAXLEN', '~', maxlen, '*', unpack(ARGV, 4))
    count = count + 1
  end
end
return count
