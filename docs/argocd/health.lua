-- Argo CD health check for ModelCache, InferenceCluster and ModelDeployment
-- (modelcache.dev/v1alpha1). The same script serves the three kinds: each
-- reports Ready, and Stalled=True when nothing changes without a user action
-- (kstatus conventions, docs/gitops.md).
hs = {}
if obj.status == nil or obj.status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report status"
  return hs
end
local gen = obj.metadata and obj.metadata.generation
local observed = obj.status.observedGeneration
if gen ~= nil and observed ~= nil and observed < gen then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. gen
  return hs
end
local ready, stalled
for _, c in ipairs(obj.status.conditions) do
  if c.type == "Ready" then ready = c end
  if c.type == "Stalled" then stalled = c end
end
local function text(c)
  local m = c.reason or ""
  if c.message ~= nil and c.message ~= "" then m = m .. ": " .. c.message end
  return m
end
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = text(stalled)
  return hs
end
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = text(ready)
  return hs
end
-- not Ready yet: failures an operator retries are Degraded, the rest Progressing
local degraded = {Invalid = true, Failed = true, Unreachable = true, Unauthorized = true, KubeconfigInvalid = true,
                  StorageClassMissing = true, AuthSecretMissing = true, InsufficientGPUs = true}
if ready ~= nil and degraded[ready.reason] then
  hs.status = "Degraded"
  hs.message = text(ready)
  return hs
end
hs.status = "Progressing"
hs.message = ready ~= nil and text(ready) or "Waiting for the Ready condition"
return hs
