#!lua
-- One step of a flow ended, sent inside the MULTI that stores the step's result (internals/result_tap.py):
-- the result and the flow's advance are one write. (A finish sent as finish.lua runs flow_advance itself.)
-- KEYS: the flow's hash (or the step's link, for a job that expired before it ran). ARGV: as flow_advance's
-- `a`. Returns 1 if the end counted, 0 if already counted.
-- include: flow_advance.lua
return flow_advance(KEYS[1], ARGV)
