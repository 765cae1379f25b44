-- Argo CD health check for memorymcp.io/MemoryMCP.
--
-- Install it as resource.customizations.health.memorymcp.io_MemoryMCP in
-- argocd-cm (config/argocd/argocd-cm-patch.yaml carries this script).
--
-- Incident mode is reported Healthy, with the incident in the message: it is
-- a state someone declared and the operator achieved. Paging and dashboards
-- come from the MemoryMCPIncidentModeActive alert; a Degraded application
-- would instead trigger Argo CD's degraded notifications beside real
-- failures and make `argocd app wait --health` fail in the pipeline that
-- ships the fix. An incident profile not yet applied is Progressing.

local hs = {}

local function condition(conditions, type)
  for _, c in ipairs(conditions) do
    if c.type == type then
      return c
    end
  end
  return nil
end

local function describe(c, fallback)
  if c.message ~= nil and c.message ~= "" then
    return c.message
  end
  if c.reason ~= nil and c.reason ~= "" then
    return c.reason
  end
  return fallback
end

-- Reasons of Ready=False that mean "not there yet" rather than "failed".
-- The operator writes PodsNotReady whenever fewer pods are ready than
-- wanted, which includes every fresh server while its pods start; pods that
-- never become ready set Degraded=True (ProgressDeadlineExceeded, once the
-- Deployment's progress deadline passes), as does a failed apply, and
-- Degraded is checked first.
local waitingReasons = {
  PodsNotReady = true, Progressing = true, Reconciling = true, RollingOut = true,
  Pending = true, Creating = true, Scaling = true, WaitingForReplicas = true,
  Initializing = true,
}

local function assess(obj)
  local generation = obj.metadata.generation or 0
  if obj.status == nil or obj.status.conditions == nil or #obj.status.conditions == 0 then
    return "Progressing", "Waiting for the operator to report status"
  end
  local status = obj.status
  if (status.observedGeneration or 0) < generation then
    return "Progressing", "Waiting for the operator to observe generation " .. generation
  end

  local conditions = status.conditions
  local degraded = condition(conditions, "Degraded")
  if degraded ~= nil and degraded.status == "True" then
    return "Degraded", describe(degraded, "Degraded")
  end
  local progressing = condition(conditions, "Progressing")
  if progressing ~= nil and progressing.status == "True" then
    return "Progressing", describe(progressing, "Rolling out")
  end

  local ready = condition(conditions, "Ready")
  if ready == nil or ready.status == "Unknown" then
    return "Progressing", "Waiting for the Ready condition"
  end
  if (ready.observedGeneration or generation) < generation then
    return "Progressing", "Ready describes an earlier generation"
  end
  if ready.status == "False" then
    if waitingReasons[ready.reason or ""] then
      return "Progressing", describe(ready, "Not ready yet")
    end
    return "Degraded", describe(ready, "Not ready")
  end

  local spec = obj.spec or {}
  local incident = condition(conditions, "IncidentModeActive")
  local incidentActive = incident ~= nil and incident.status == "True"
  if spec.incidentMode == true and not incidentActive then
    return "Progressing", "Incident mode requested; the emergency profile is not applied yet"
  end
  if spec.incidentMode ~= true and incidentActive then
    return "Progressing", "Incident mode turned off; the normal profile is not restored yet"
  end
  if spec.replicas == 0 then
    return "Suspended", "Scaled to zero replicas"
  end
  if incidentActive then
    local reason = (spec.incident or {}).reason
    if reason == nil or reason == "" then
      reason = describe(incident, "no reason given")
    end
    return "Healthy", "Incident mode active: " .. reason
  end
  return "Healthy", describe(ready, "Ready")
end

hs.status, hs.message = assess(obj)
return hs
