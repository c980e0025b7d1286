"""OpenVINO's `preprocess` API (PrePostProcessor): preprocessing and postprocessing built into the model as ops."""
