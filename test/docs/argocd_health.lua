-- Runs docs/argocd/health.lua (Argo CD's contract: a global `obj`, the script
-- returns {status, message}) on every recorded status of argocd_cases.lua.
local script_path, cases_path = arg[1], arg[2]
local chunk = assert(loadfile(script_path))
local cases = dofile(cases_path)
local failed = 0
for i, c in ipairs(cases) do
  local name, want, o = c[1], c[2], c[3]
  obj = o
  local ok, hs = pcall(chunk)
  if not ok then
    print(string.format("FAIL %d %s: error %s", i, name, tostring(hs)))
    failed = failed + 1
  elseif type(hs) ~= "table" or hs.status ~= want or type(hs.message) ~= "string" then
    print(string.format("FAIL %d %s: got %s (%s), want %s", i, name, tostring(hs and hs.status),
      tostring(hs and hs.message), want))
    failed = failed + 1
  else
    print(string.format("ok   %-45s %-11s %s", name, hs.status, hs.message))
  end
end
print(string.format("argocd health: %d cases, %d failed", #cases, failed))
os.exit(failed == 0 and 0 or 1)
