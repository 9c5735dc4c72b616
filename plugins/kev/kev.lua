-- kev (enricher): marks the CVEs listed in CISA's Known Exploited Vulnerabilities catalog and
-- raises their priority. The catalog comes from the run's CVE database
-- (`brulee db import known_exploited_vulnerabilities.json`, or `brulee db update`).
--
-- Fields added under enrichment.kev: name, date_added, due_date, required_action, ransomware
-- (true when CISA knows of ransomware campaigns using it), priority, and a note for ransomware.

local config = brulee.config or {}

local function number_setting(name, default)
  local value = config[name]
  if value == nil then
    return default
  end
  if type(value) ~= "number" or value < 0 or value > 100 then
    error(string.format("config.%s must be a number from 0 to 100, not %s", name, tostring(value)))
  end
  return value
end

-- A catalogued CVE is being exploited now: above anything EPSS alone can say.
local priority = number_setting("priority", 90)
local ransomware_bump = number_setting("ransomware_bump", 10)

function enrich(f)
  if f.kind ~= "cve" then
    return f
  end
  local entry = brulee.kev(f.cve)
  if not entry then
    return f
  end
  f.name = entry.name
  f.date_added = entry.date_added
  f.due_date = entry.due_date
  f.required_action = entry.required_action
  f.ransomware = entry.ransomware
  local p = priority
  if entry.ransomware then
    p = p + ransomware_bump
    f.note = "CISA KEV: known to be used in ransomware campaigns"
  end
  f.priority = math.min(100, p)
  return f
end
