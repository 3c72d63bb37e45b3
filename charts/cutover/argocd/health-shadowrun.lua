-- Argo CD health check for cutover.dev/ShadowRun
-- (argocd-cm key: resource.customizations.health.cutover.dev_ShadowRun).
-- Runs on Argo CD's Lua 5.1 interpreter; `obj` is the live object. Order of the checks:
--   no status yet / spec not yet observed (status.observedGeneration < metadata.generation) -> Progressing
--   condition Stalled=True (needs a human; its message names the field)                       -> Degraded
--   phase: Passed -> Healthy; Pending, Running -> Progressing; Paused -> Suspended;
--          Failed, Cancelled -> Degraded (like an aborted Argo Rollout); anything else -> Unknown
local hs = {}

local function condition(status, condType)
  if status.conditions == nil then return nil end
  for _, c in ipairs(status.conditions) do
    if c.type == condType then return c end
  end
  return nil
end

local function text(value, fallback)
  if value ~= nil and value ~= "" then return value end
  return fallback
end

-- Names of the metrics whose last result is Fail, for the Failed message.
local function failing(status)
  local names = {}
  if status.results ~= nil then
    for _, r in ipairs(status.results) do
      if r.result == "Fail" then table.insert(names, r.name) end
    end
  end
  return table.concat(names, ", ")
end

local st = obj.status
if st == nil or st.phase == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Cutover operator to pick up this ShadowRun"
  return hs
end

local generation = nil
if obj.metadata ~= nil then generation = obj.metadata.generation end
if generation ~= nil and st.observedGeneration ~= nil and st.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the Cutover operator to observe generation " .. generation
  return hs
end

local stalled = condition(st, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = "Stalled: " .. text(stalled.message, text(stalled.reason, "see kubectl describe"))
  return hs
end

local phase = st.phase
if phase == "Passed" then
  hs.status = "Healthy"
  hs.message = text(st.message, "Passed: the shadow matched the primary")
elseif phase == "Pending" then
  hs.status = "Progressing"
  hs.message = text(st.message, "Pending")
elseif phase == "Running" then
  hs.status = "Progressing"
  if st.endsAt ~= nil then
    hs.message = "Mirroring traffic to the shadow until " .. st.endsAt
  else
    hs.message = text(st.message, "Mirroring traffic to the shadow")
  end
elseif phase == "Paused" then
  hs.status = "Suspended"
  hs.message = text(st.message, "Paused")
elseif phase == "Failed" then
  hs.status = "Degraded"
  local names = failing(st)
  if st.message ~= nil and st.message ~= "" then
    hs.message = st.message
  elseif names ~= "" then
    hs.message = "Failed: " .. names
  else
    hs.message = "Failed"
  end
elseif phase == "Cancelled" then
  hs.status = "Degraded"
  hs.message = text(st.message, "Cancelled")
else
  hs.status = "Unknown"
  hs.message = "Unknown phase " .. phase
end
return hs
