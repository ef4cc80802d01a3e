"""`breakeven measure`: a load generator that finds a self-hosted endpoint's capacity at the team's workload.

`loadgen` probes and sweeps, `synthetic` makes prompts of a given token count, `planfile` writes the result
into the user's pricing file, `report` prints it, `cli` is the click command.
"""
