-- distro-backports (filter): Debian and Ubuntu fix vulnerabilities in their packages without
-- changing the upstream version, so NVD's ranges call "OpenSSH 9.2p1 Debian 2+deb12u10"
-- vulnerable to CVEs Debian fixed long ago. This filter asks the run's CVE database what the
-- distribution says (`brulee db import` of changelogs, tracker data or OSV records, or
-- `brulee db update`) and decides, never with more certainty than the data has:
--   fixed at or before this build  -> dropped: "fixed in Debian bookworm 1:9.2p1-2+deb12u3 (DSA-5724-1)"
--   not affected in the release    -> dropped, with the source
--   fixed later, or no fix         -> kept, noted: "no fix in Debian bookworm (security tracker: open, …)"
--   build revision or data unknown -> kept, noted: "distro build: may be backported (…)"
-- Findings of products it does not know are kept untouched.

local config = brulee.config or {}

-- nmap's product name -> the source package, and the epoch its versions carry (nmap's banner
-- drops it: "OpenSSH 9.2p1 Debian 2+deb12u3" is 1:9.2p1-2+deb12u3). Extended or overridden by
-- config.packages.
local packages = {
  ["OpenSSH"] = { package = "openssh", epoch = 1 },
  ["nginx"] = { package = "nginx", epoch = 0 },
  ["Apache httpd"] = { package = "apache2", epoch = 0 },
  ["vsftpd"] = { package = "vsftpd", epoch = 0 },
  ["ProFTPD"] = { package = "proftpd-dfsg", epoch = 0 },
  ["Redis key-value store"] = { package = "redis", epoch = 5 },
  ["MariaDB"] = { package = "mariadb", epoch = 1 },
  ["Dovecot imapd"] = { package = "dovecot", epoch = 1 },
  ["Dovecot pop3d"] = { package = "dovecot", epoch = 1 },
  ["Exim smtpd"] = { package = "exim4", epoch = 0 },
  ["ISC BIND"] = { package = "bind9", epoch = 1 },
  ["OpenSSL"] = { package = "openssl", epoch = 0 },
}

for product, entry in pairs(config.packages or {}) do
  if type(entry) == "string" then
    packages[product] = { package = entry }
  elseif type(entry) == "table" and type(entry.package) == "string" then
    packages[product] = { package = entry.package, epoch = entry.epoch }
  else
    error(string.format("config.packages[%q] must be a source package name or {package = …, epoch = …}", product))
  end
end

-- A Debian revision names its release: "+deb12u3", "~deb12u1".
local debian_releases = { ["9"] = "stretch", ["10"] = "buster", ["11"] = "bullseye", ["12"] = "bookworm", ["13"] = "trixie", ["14"] = "forky" }
local ubuntu_releases = {
  ["14.04"] = "trusty", ["16.04"] = "xenial", ["18.04"] = "bionic", ["20.04"] = "focal",
  ["22.04"] = "jammy", ["24.04"] = "noble", ["24.10"] = "oracular", ["25.04"] = "plucky",
}
local display = { debian = "Debian", ubuntu = "Ubuntu" }

-- config.release: one codename, or one per distribution: { debian = "bookworm", ubuntu = "jammy" }.
local function configured_release(distro)
  local r = config.release
  if type(r) == "table" then
    return r[distro]
  end
  if type(r) == "string" and (config.distro == nil or config.distro == distro) then
    return r
  end
  return nil
end

local function release_of(distro, revision)
  if distro == "debian" then
    local n = revision:match("deb(%d+)u")
    if n and debian_releases[n] then
      return debian_releases[n]
    end
  elseif distro == "ubuntu" then
    local n = revision:match("(%d%d%.%d%d)")
    if n and ubuntu_releases[n] then
      return ubuntu_releases[n]
    end
  end
  return configured_release(distro)
end

-- "9.2p1 Debian 2+deb12u10" -> "9.2p1", "debian", "2+deb12u10"
local function split_version(version)
  if not version then
    return nil
  end
  local upstream, word, revision = version:match("^(%S+) (%a+) (%S+)$")
  if not upstream or not display[word:lower()] then
    return nil
  end
  return upstream, word:lower(), revision
end

-- The epoch nmap dropped: the table's, else the one the distribution's fixed version has.
local function with_epoch(version, epoch, fixed)
  if version:find(":", 1, true) then
    return version
  end
  if epoch == nil and fixed then
    epoch = tonumber(fixed:match("^(%d+):"))
  end
  if epoch and epoch > 0 then
    return epoch .. ":" .. version
  end
  return version
end

local function said(fix)
  local text = fix.source
  if fix.inherited_from then
    text = text .. ", " .. fix.inherited_from .. "'s line"
  end
  return text
end

function filter(f)
  local entry = packages[f.product or ""]
  if not entry or f.kind ~= "cve" then
    return true
  end
  local upstream, distro, revision = split_version(f.version)
  if not upstream then
    -- nginx, Apache and most others show the upstream version at most with "(Debian)".
    local distro_name = config.distro or "debian"
    local release = configured_release(distro_name)
    local hint = ""
    if release then
      local fix = brulee.distro_fix({ distro = distro_name, release = release, package = entry.package, cve = f.cve })
      if fix and fix.status == "fixed" then
        hint = string.format("; %s %s fixed it in %s (%s)", display[distro_name] or distro_name, release, fix.fixed_version, said(fix))
      end
    end
    return true, "distro build: may be backported (nmap shows no package revision" .. hint .. ")"
  end
  local where = display[distro]
  local release = release_of(distro, revision)
  if not release then
    return true, string.format("distro build: may be backported (%s %s: set config.release to say which release)", where, revision)
  end
  where = where .. " " .. release
  local fix = brulee.distro_fix({ distro = distro, release = release, package = entry.package, cve = f.cve })
  if not fix then
    return true, string.format("distro build: may be backported (no %s data on %s in %s)", where, f.cve, entry.package)
  end
  local detail = fix.detail and (": " .. fix.detail) or ""
  if fix.status == "fixed" then
    local installed = with_epoch(upstream .. "-" .. revision, entry.epoch, fix.fixed_version)
    if brulee.version_compare(installed, fix.fixed_version) >= 0 then
      return false, string.format("fixed in %s %s (%s)", where, fix.fixed_version, said(fix))
    end
    return true, string.format("not fixed in this build %s: %s fixed it in %s (%s)", installed, where, fix.fixed_version, said(fix))
  elseif fix.status == "not-affected" then
    return false, string.format("not affected in %s (%s%s)", where, said(fix), detail)
  end
  return true, string.format("no fix in %s (%s: %s%s)", where, said(fix), fix.status, detail)
end
