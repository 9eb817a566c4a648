-- Argo CD health check for ivschat.operators.dev ChatRoom and ChatLoggingConfiguration
-- (the same script for both kinds). Only Lua's base and table libraries are used: Argo CD
-- runs health checks without the string library.
--
--   being deleted                           -> Progressing
--   status.observedGeneration < generation  -> Progressing (the operator has not seen the spec)
--   Stalled=True                            -> Degraded (needs a spec or AWS-side change)
--   Ready=True                              -> Healthy
--   anything else                           -> Progressing (creating, retrying, waiting)
local hs = {status = "Progressing", message = "Waiting for the operator to reconcile"}

local function condition(conditions, type)
  if conditions == nil then
    return nil
  end
  for _, c in ipairs(conditions) do
    if c.type == type then
      return c
    end
  end
  return nil
end

local function describe(c, fallback)
  if c == nil then
    return fallback
  end
  if c.message ~= nil and c.message ~= "" then
    if c.reason ~= nil and c.reason ~= "" then
      return c.reason .. ": " .. c.message
    end
    return c.message
  end
  if c.reason ~= nil and c.reason ~= "" then
    return c.reason
  end
  return fallback
end

local st = obj.status
local conditions = nil
if st ~= nil then
  conditions = st.conditions
end

if obj.metadata ~= nil and obj.metadata.deletionTimestamp ~= nil then
  hs.message = "Being deleted"
  local ready = condition(conditions, "Ready")
  if ready ~= nil and ready.status ~= "True" then
    hs.message = "Being deleted: " .. describe(ready, "")
  end
  return hs
end

if st == nil then
  return hs
end

local generation = obj.metadata.generation
if generation ~= nil and (st.observedGeneration == nil or st.observedGeneration < generation) then
  hs.message = "Waiting for the operator to observe generation " .. generation
  return hs
end

local stalled = condition(conditions, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled, "Stalled")
  return hs
end

local ready = condition(conditions, "Ready")
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready, "Ready")
  return hs
end
if ready ~= nil then
  hs.message = describe(ready, hs.message)
end
return hs
