-- json-inventory (source): scan targets taken from a JSON asset inventory — a CMDB export,
-- `ansible-inventory --list`, `aws ec2 describe-instances`, `gcloud compute instances list
-- --format=json` — read from a granted file or fetched from a granted URL.
--
-- config:
--   file   = name of a file granted with files = [...]            } exactly one of
--   url    = http(s) URL whose host is granted with allow_hosts  } file and url
--   select = path of the addresses, or a list of paths:
--            keys separated by ".", "[]" after a key takes every element of its list,
--            "*" takes every value of an object or list
--            e.g. "Reservations[].Instances[].PrivateIpAddress", "_meta.hostvars.*.ansible_host"
--   optional = true: a path that finds nothing is not an error (default false)

local config = brulee.config

-- "a.b[].c" -> {"a", "b", "[]", "c"}
local function steps_of(path)
  local steps = {}
  for part in string.gmatch(path, "[^.]+") do
    local key, rest = string.match(part, "^([^%[]*)(.*)$")
    if key ~= "" then steps[#steps + 1] = key end
    for _ in string.gmatch(rest, "%[%]") do steps[#steps + 1] = "[]" end
    if string.gsub(rest, "%[%]", "") ~= "" then
      error("select path " .. string.format("%q", path) .. ": only \"[]\" may follow a key")
    end
  end
  if #steps == 0 then error("select path is empty") end
  return steps
end

-- Every value the path reaches from `node`, with the path taken to it (for messages).
local function walk(node, steps, i, at, out)
  if node == nil then return end
  if i > #steps then
    out[#out + 1] = { value = node, at = at }
    return
  end
  local step = steps[i]
  if step == "[]" or step == "*" then
    if type(node) ~= "table" then return end
    if step == "[]" and #node == 0 and next(node) ~= nil then
      error(at .. " is an object, not a list: use \"*\" to take its values")
    end
    -- Sorted keys, so that the same inventory always yields the same order.
    local keys = {}
    for k in pairs(node) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    for _, k in ipairs(keys) do
      local label = type(k) == "number" and (at .. "[" .. (k - 1) .. "]") or (at .. "." .. k)
      walk(node[k], steps, i + 1, label, out)
    end
  elseif type(node) == "table" then
    walk(node[step], steps, i + 1, (at == "" and step) or (at .. "." .. step), out)
  end
end

local function inventory()
  if (config.file == nil) == (config.url == nil) then
    error("set exactly one of config.file (a granted file) and config.url (a granted URL)")
  end
  local text, where
  if config.file then
    text, where = brulee.read_file(config.file), config.file
  else
    local response = brulee.http { url = config.url }
    if response.status < 200 or response.status > 299 then
      error(config.url .. " answered " .. response.status)
    end
    text, where = response.body, config.url
  end
  local ok, decoded = pcall(brulee.json_decode, text)
  if not ok then error(where .. " is not JSON: " .. tostring(decoded)) end
  return decoded, where
end

function targets()
  local paths = config.select
  if type(paths) == "string" then paths = { paths } end
  if type(paths) ~= "table" or #paths == 0 then
    error("config.select is missing: give the path of the addresses, e.g. \"hosts[].ip\"")
  end
  local doc, where = inventory()
  local found, seen = {}, {}
  for _, path in ipairs(paths) do
    local values = {}
    walk(doc, steps_of(path), 1, "", values)
    local count = 0
    for _, v in ipairs(values) do
      local items = type(v.value) == "table" and v.value or { v.value }
      for _, item in ipairs(items) do
        if type(item) ~= "string" then
          error(where .. ": " .. v.at .. " is a " .. type(item) .. ", not an address")
        end
        count = count + 1
        if not seen[item] then
          seen[item] = true
          found[#found + 1] = item
        end
      end
    end
    if count == 0 and not config.optional then
      error(where .. ": select path " .. string.format("%q", path) .. " found no addresses")
    end
  end
  brulee.log(string.format("%d targets from %s", #found, where))
  return found
end
