"""Model Optimizer passes: a Pass protocol, the PassManager and the default pipeline."""
