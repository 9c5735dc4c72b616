-- epss (enricher): attaches FIRST's EPSS score (the probability of exploitation activity in
-- the next 30 days) and its percentile, and maps them to a priority. The scores come from the
-- run's CVE database (`brulee db import epss_scores-YYYY-MM-DD.csv.gz`, or `brulee db update`).
--
-- Fields added under enrichment.epss: score, percentile, date, model, and priority when a
-- threshold is met.

local config = brulee.config or {}

-- Each threshold gives `priority` to CVEs at or above its `percentile` (or `score`); the
-- highest priority that applies wins.
local thresholds = config.thresholds or {
  { percentile = 0.99, priority = 70 },
  { percentile = 0.95, priority = 50 },
  { percentile = 0.90, priority = 30 },
}

for i, t in ipairs(thresholds) do
  if type(t) ~= "table" or type(t.priority) ~= "number" or t.priority < 0 or t.priority > 100 then
    error(string.format("config.thresholds[%d] needs a priority from 0 to 100", i))
  end
  local bound = t.percentile or t.score
  if type(bound) ~= "number" or bound < 0 or bound > 1 or (t.percentile and t.score) then
    error(string.format("config.thresholds[%d] needs one of percentile or score, a number from 0 to 1", i))
  end
end
table.sort(thresholds, function(a, b)
  return a.priority > b.priority
end)

function enrich(f)
  if f.kind ~= "cve" then
    return f
  end
  local e = brulee.epss(f.cve)
  if not e then
    return f
  end
  f.score = e.score
  f.percentile = e.percentile
  f.date = e.date
  f.model = e.model
  for _, t in ipairs(thresholds) do
    local met
    if t.percentile then
      met = e.percentile ~= nil and e.percentile >= t.percentile
    else
      met = e.score >= t.score
    end
    if met then
      f.priority = t.priority
      break
    end
  end
  return f
end
