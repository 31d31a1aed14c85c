"""Pure rules both backends share: rollout, autoscaling, signature compatibility,
checkpoint policy. Nothing here does I/O; each function takes observations and returns a decision.
"""
