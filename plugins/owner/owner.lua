-- owner (enricher): who owns the host of each finding, from a table of networks, so that a
-- report can be split and sent team by team. The most specific network wins.
--
-- config:
--   owners  = list of { cidr = "127.0.1.0/24", owner = "payments", contact = "…" (optional) }
--   default = owner of hosts in no listed network (optional; without it they get nothing)

local owners = brulee.config.owners
if type(owners) ~= "table" or #owners == 0 then
  error("config.owners is missing: list { cidr = \"127.0.1.0/24\", owner = \"team\" } entries")
end

-- The prefix length of each entry, checked once: a bad entry fails the step at load.
local entries = {}
for i, e in ipairs(owners) do
  if type(e.cidr) ~= "string" or type(e.owner) ~= "string" then
    error("config.owners[" .. i .. "] needs cidr and owner strings")
  end
  brulee.ip_in("127.0.0.1", e.cidr) -- raises on a bad network
  local bits = tonumber(string.match(e.cidr, "/(%d+)$"))
    or (string.find(e.cidr, ":", 1, true) and 128 or 32)
  entries[#entries + 1] = { cidr = e.cidr, owner = e.owner, contact = e.contact, bits = bits }
end
-- Longest prefix first, so the first match is the most specific.
table.sort(entries, function(a, b) return a.bits > b.bits end)

local memo = {}

function enrich(f)
  local hit = memo[f.address]
  if hit == nil then
    hit = false
    for _, e in ipairs(entries) do
      if brulee.ip_in(f.address, e.cidr) then
        hit = e
        break
      end
    end
    memo[f.address] = hit
  end
  if hit then
    return { owner = hit.owner, contact = hit.contact, network = hit.cidr }
  elseif brulee.config.default then
    return { owner = brulee.config.default }
  end
  return {}
end
