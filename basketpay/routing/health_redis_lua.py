"""The Redis store's atomic operations as Lua scripts. Redis runs a script with no other
command in between, so concurrent processes never lose a count, and exactly one of them
makes each breaker transition and hands out each probe. The breaker rules mirror
`health_rules` line for line (`current`, `after_outcome`, `after_probe_request`,
`window_resets`); a change to one is a change to both.

A breaker record is stored as "state|changed_at|probes_granted" in one hash field per
processor; closed breakers are not stored. Times are the callers' clock (seconds since the
epoch, passed in with `repr` and written back with %.17g, which round-trips a double
exactly), not Redis's, so tests can move time."""

from __future__ import annotations

_PRELUDE = """
local function decode(raw)
  if not raw then return {'closed', 0, 0} end
  local state, changed_at, granted = string.match(raw, '^([%a_]+)|([^|]+)|(%d+)$')
  return {state, tonumber(changed_at), tonumber(granted)}
end

local function encode(record)
  return record[1] .. '|' .. string.format('%.17g', record[2]) .. '|' .. string.format('%d', record[3])
end

local function current(record, now, cooldown, probe_timeout)
  if record[1] == 'open' and now >= record[2] + cooldown then
    record = {'half_open', record[2] + cooldown, 0}
  end
  if record[1] == 'half_open' and now >= record[2] + probe_timeout then
    record = {'half_open', now, 0}
  end
  return record
end

local function save(breakers_key, processor, before, after, state_ttl)
  if encode(after) == encode(before) then return end
  if after[1] == 'closed' then
    redis.call('HDEL', breakers_key, processor)
  else
    redis.call('HSET', breakers_key, processor, encode(after))
    redis.call('EXPIRE', breakers_key, state_ttl)
  end
end
"""

# KEYS: the success-rate bucket, the breakers hash, the breaker-window buckets (current first).
# ARGV: success-rate field ('' when the outcome is not an issuer answer), its TTL, processor,
#       now, failed (0/1), breaker bucket TTL, calls_min, failure_rate_max, cooldown,
#       probe timeout, breaker state TTL.
# Returns the records before, present and after, encoded.
RECORD = _PRELUDE + """
if ARGV[1] ~= '' then
  redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
local processor, now, failed = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
redis.call('HINCRBY', KEYS[3], 'calls', 1)
redis.call('HINCRBY', KEYS[3], 'failures', failed)
redis.call('EXPIRE', KEYS[3], ARGV[6])
local calls, failures = 0, 0
for i = 3, #KEYS do
  local counts = redis.call('HMGET', KEYS[i], 'calls', 'failures')
  calls = calls + (tonumber(counts[1]) or 0)
  failures = failures + (tonumber(counts[2]) or 0)
end
local before = decode(redis.call('HGET', KEYS[2], processor))
local present = current(before, now, tonumber(ARGV[9]), tonumber(ARGV[10]))
local after = present
if present[1] == 'half_open' then
  if failed == 1 then after = {'open', now, 0} else after = {'closed', 0, 0} end
elseif present[1] == 'closed' and calls >= tonumber(ARGV[7]) and failures > tonumber(ARGV[8]) * calls then
  after = {'open', now, 0}
end
if after[1] == 'closed' and present[1] ~= 'closed' then
  for i = 3, #KEYS do redis.call('DEL', KEYS[i]) end
end
save(KEYS[2], processor, before, after, ARGV[11])
return {encode(before), encode(present), encode(after)}
"""

# KEYS: the breakers hash. ARGV: processor, now, cooldown, probe timeout, probes_max, state TTL.
# Returns the records before, present and after, encoded, and 1 when the call may go.
PROBE = _PRELUDE + """
local processor, now = ARGV[1], tonumber(ARGV[2])
local before = decode(redis.call('HGET', KEYS[1], processor))
local present = current(before, now, tonumber(ARGV[3]), tonumber(ARGV[4]))
local after, granted = present, 0
if present[1] == 'closed' then
  granted = 1
elseif present[1] == 'half_open' and present[3] < tonumber(ARGV[5]) then
  after = {'half_open', present[2], present[3] + 1}
  granted = 1
end
save(KEYS[1], processor, before, after, ARGV[6])
return {encode(before), encode(present), encode(after), granted}
"""
