-- Argo CD health check for cutover.dev/TrafficShift
-- (argocd-cm key: resource.customizations.health.cutover.dev_TrafficShift).
-- Runs on Argo CD's Lua 5.1 interpreter; `obj` is the live object. Order of the checks:
--   no status yet / spec not yet observed (status.observedGeneration < metadata.generation) -> Progressing
--   condition Stalled=True (needs a human; its message names the field)                       -> Degraded
--   phase: Completed -> Healthy; Pending, Progressing -> Progressing; Paused -> Suspended;
--          RolledBack, Failed -> Degraded; anything else -> Unknown
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

local st = obj.status
if st == nil or st.phase == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Cutover operator to pick up this TrafficShift"
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

local weight = st.currentWeight or 0
local stepText = ""
if st.currentStep ~= nil and obj.spec ~= nil and obj.spec.steps ~= nil then
  stepText = "step " .. (st.currentStep + 1) .. "/" .. #obj.spec.steps .. ", "
end

local phase = st.phase
if phase == "Completed" then
  hs.status = "Healthy"
  hs.message = text(st.message, "Completed: " .. weight .. "% of traffic on the canary")
elseif phase == "Pending" then
  hs.status = "Progressing"
  hs.message = text(st.message, "Pending")
elseif phase == "Progressing" then
  hs.status = "Progressing"
  hs.message = "Progressing: " .. stepText .. "weight " .. weight .. "%"
elseif phase == "Paused" then
  hs.status = "Suspended"
  local reason = ""
  if st.pauseReason ~= nil then reason = " (" .. st.pauseReason .. ")" end
  hs.message = "Paused" .. reason .. " at " .. stepText .. "weight " .. weight .. "%"
  if st.message ~= nil and st.message ~= "" then hs.message = hs.message .. ": " .. st.message end
elseif phase == "RolledBack" then
  hs.status = "Degraded"
  if st.rollback ~= nil then
    hs.message = "Rolled back (" .. text(st.rollback.trigger, "unknown trigger") .. "): " .. text(st.rollback.reason, "no reason recorded")
  else
    hs.message = text(st.message, "Rolled back")
  end
elseif phase == "Failed" then
  hs.status = "Degraded"
  hs.message = text(st.message, "Failed")
else
  hs.status = "Unknown"
  hs.message = "Unknown phase " .. phase
end
return hs
