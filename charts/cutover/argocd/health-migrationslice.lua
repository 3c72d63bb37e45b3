-- Argo CD health check for cutover.dev/MigrationSlice
-- (argocd-cm key: resource.customizations.health.cutover.dev_MigrationSlice).
-- Runs on Argo CD's Lua 5.1 interpreter; `obj` is the live object. Order of the checks:
--   no status yet / spec not yet observed (status.observedGeneration < metadata.generation) -> Progressing
--   condition Stalled=True (needs a human; its message names the field)                       -> Degraded
--   phase: Completed -> Healthy; Pending, Shadowing, Shifting, Stabilizing -> Progressing,
--          or Suspended while its TrafficShift child is Paused; Paused -> Suspended;
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

-- The reason of the most recent history entry (the history is appended in time order).
local function lastReason(status)
  if status.history == nil or #status.history == 0 then return nil end
  local h = status.history[#status.history]
  return text(h.message, h.reason)
end

local st = obj.status
if st == nil or st.phase == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Cutover operator to pick up this MigrationSlice"
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

local shift = nil
if st.children ~= nil then shift = st.children.trafficShift end

local phase = st.phase
if phase == "Completed" then
  hs.status = "Healthy"
  hs.message = text(st.message, "Completed")
elseif phase == "Pending" or phase == "Shadowing" or phase == "Shifting" or phase == "Stabilizing" then
  if shift ~= nil and shift.phase == "Paused" then
    hs.status = "Suspended"
    hs.message = phase .. ": TrafficShift " .. shift.name .. " is Paused"
  else
    hs.status = "Progressing"
    local detail = text(st.message, nil)
    if detail == nil and st.currentWeight ~= nil and phase ~= "Pending" then
      detail = "weight " .. st.currentWeight .. "%"
    end
    if detail ~= nil then hs.message = phase .. ": " .. detail else hs.message = phase end
  end
elseif phase == "Paused" then
  hs.status = "Suspended"
  hs.message = text(st.message, "Paused")
elseif phase == "RolledBack" then
  hs.status = "Degraded"
  hs.message = "Rolled back: " .. text(st.message, text(lastReason(st), "no reason recorded"))
elseif phase == "Failed" then
  hs.status = "Degraded"
  hs.message = "Failed: " .. text(st.message, text(lastReason(st), "no reason recorded"))
else
  hs.status = "Unknown"
  hs.message = "Unknown phase " .. phase
end
return hs
