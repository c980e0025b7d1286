"""Model Optimizer front door: the conversion options users know from OpenVINO's `mo` (input shapes, batch,
cutting, mean/scale, channel reversal, layouts, FP16 compression) applied around the optimization pipeline."""
