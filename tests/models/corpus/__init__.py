"""The real-model corpus: Hugging Face `transformers` architectures built from their config classes (random
weights, real widths, two layers), exported with both torch.onnx exporters, converted by irforge and checked
against ONNX Runtime on REF, CPU and OpenVINO (tests/models/test_corpus.py)."""
