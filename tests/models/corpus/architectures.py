"""The corpus's architectures: Hugging Face `transformers` models built from their config classes, never downloaded.

Each entry copies the layer widths (hidden size, heads, intermediate size, vocabulary, image size) of a real small
or base checkpoint (named in `checkpoint`, for reference only: nothing is fetched) and keeps two layers
(num_hidden_layers=2; the hierarchical vision models keep every stage with one or two blocks). Where an entry departs
from its checkpoint further (fewer blocks per stage, reduced widths or vocabulary of a large model, a small CNN kept
whole), `note` says so.
Weights are random under a fixed seed; normalization layers get non-trivial affine parameters, BatchNorm non-trivial
running statistics and all-zero parameters (biases, position-bias tables) random values: HF initializes them to
constants, which would hide a wrong norm, a dropped bias or a wrong fold.

Every model is wrapped to take its inputs by position and return a flat tuple of tensors (the fields named in
`outputs`): what both torch.onnx exporters want, and decoders return logits only (use_cache=False, no KV cache)."""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

# nothing downloaded, ever (set before transformers is first imported, by a build)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

Inputs = dict[str, np.ndarray]
EXPORTERS = ("legacy", "dynamo")


@dataclass(frozen=True)
class Architecture:
    name: str
    family: str  # text-encoder, decoder, vision, audio
    checkpoint: str  # the checkpoint whose widths the config copies (documentation only: nothing is downloaded)
    build: Callable[[], nn.Module]  # seeded, eval mode, positional inputs -> tuple of `outputs`
    inputs: Callable[[], Inputs]  # batch 1; the dict's order is the model's input order
    outputs: tuple[str, ...]
    note: str = ""  # where the config departs from the checkpoint beyond the layer count
    # exporter -> first line of its error: a known torch.onnx limitation (the case is skipped, not converted)
    exporter_failures: Mapping[str, str] = field(default_factory=dict)

    @property
    def input_names(self) -> list[str]:
        return list(self.inputs())


class _Fields(nn.Module):
    """Calls a HF model with keyword inputs and returns the named fields of its output as a tuple."""

    def __init__(self, model: nn.Module, input_names: list[str], fields: tuple[str, ...]) -> None:
        super().__init__()
        self.model = model
        self.input_names = input_names
        self.fields = fields

    def forward(self, *args: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.model(**dict(zip(self.input_names, args)), return_dict=True)
        return tuple(out[f] for f in self.fields)


def _perturb(model: nn.Module, gen: torch.Generator) -> None:
    """Make the parameters HF initializes to constants matter. Normalization layers (LayerNorm, RMSNorm, GroupNorm,
    BatchNorm and the families' own *Norm classes) get scales in [0.7, 1.3] and shifts in [-0.2, 0.2], BatchNorm a
    running mean in [-0.5, 0.5] and variance in [0.3, 2]; every parameter left all zeros (biases, relative-position
    bias tables, ConvNeXt-V2's GRN, class tokens) gets N(0, 0.05) values, so dropping it changes the outputs."""
    with torch.no_grad():
        for m in model.modules():
            if "norm" not in type(m).__name__.lower():
                continue
            w, b = getattr(m, "weight", None), getattr(m, "bias", None)
            if isinstance(w, torch.Tensor) and w.dim() == 1:
                w.copy_(torch.empty_like(w).uniform_(0.7, 1.3, generator=gen))
            if isinstance(b, torch.Tensor) and b.dim() == 1:
                b.copy_(torch.empty_like(b).uniform_(-0.2, 0.2, generator=gen))
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_mean is not None:
                m.running_mean.copy_(torch.empty_like(m.running_mean).uniform_(-0.5, 0.5, generator=gen))
                m.running_var.copy_(torch.empty_like(m.running_var).uniform_(0.3, 2.0, generator=gen))
        for p in model.parameters():
            if p.is_floating_point() and not p.any():
                p.copy_(torch.empty_like(p).normal_(0.0, 0.05, generator=gen))


def _builder(model_cls: str, config_cls: str, config: dict[str, Any], input_names: list[str],
             outputs: tuple[str, ...], seed: int, part: Callable[[nn.Module], nn.Module] | None = None
             ) -> Callable[[], nn.Module]:
    """A factory: config -> model under `torch.manual_seed(seed)` -> (a sub-module, e.g. an encoder) -> constant
    parameters perturbed -> eval -> wrapped to return `outputs`."""

    def build() -> nn.Module:
        import transformers  # on first build, not at import: collecting the suite need not pay ~1 s for it

        cfg = getattr(transformers, config_cls)(**config)
        torch.manual_seed(seed)
        model = getattr(transformers, model_cls)(cfg)
        if part is not None:
            model = part(model)
        _perturb(model, torch.Generator().manual_seed(seed + 1000))
        return _Fields(model.eval(), input_names, outputs).eval()

    return build


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _text(vocab: int, seq: int = 128, pad: int = 16, seed: int = 0, token_type_ids: bool = False,
          eos: int | None = None) -> Callable[[], Inputs]:
    """input_ids (avoiding the first 5 ids, where the special tokens live; `eos` ends the unpadded text) and an
    attention mask with `pad` padded positions at the end. (Decoders too: left padding leaves the padded query rows
    with nothing to attend to, where eager PyTorch and the dynamo export legitimately disagree, by up to the logits'
    own scale.)"""

    def make() -> Inputs:
        ids = _rng(seed).integers(5, vocab, (1, seq), dtype=np.int64)
        if eos is not None:
            ids[0, seq - pad - 1] = eos
        mask = np.ones((1, seq), np.int64)
        if pad:
            mask[0, seq - pad:] = 0
        out = {"input_ids": ids, "attention_mask": mask}
        if token_type_ids:
            tt = np.zeros((1, seq), np.int64)
            tt[0, seq // 2:] = 1  # a sentence pair
            out["token_type_ids"] = tt
        return out

    return make


def _image(size: int, seed: int = 0) -> Callable[[], Inputs]:
    return lambda: {"pixel_values": _rng(seed).standard_normal((1, 3, size, size)).astype(np.float32)}


def _audio(seed: int = 0) -> Callable[[], Inputs]:
    """1 s of 16 kHz audio: a 440 Hz tone plus noise, amplitude ~0.5."""
    def make() -> Inputs:
        t = np.arange(16000, dtype=np.float64) / 16000
        wave = 0.4 * np.sin(2 * np.pi * 440 * t) + 0.1 * _rng(seed).standard_normal(16000)
        return {"input_values": wave[None].astype(np.float32)}
    return make


def _mel(frames: int = 100, seed: int = 0) -> Callable[[], Inputs]:
    """Whisper's input: an 80-bin log-mel spectrogram, 100 frames per second (1 s here), values ~[-1, 1]."""
    return lambda: {"input_features": (0.5 * _rng(seed).standard_normal((1, 80, frames))).astype(np.float32)}


def _text_arch(name: str, checkpoint: str, model_cls: str, config_cls: str, config: dict[str, Any], vocab: int,
               outputs: tuple[str, ...] = ("last_hidden_state",), seed: int = 0, token_type_ids: bool = False,
               seq: int = 128, pad: int = 16, part: Callable[[nn.Module], nn.Module] | None = None,
               note: str = "", eos: int | None = None, **extra: Any) -> Architecture:
    inputs = _text(vocab, seq, pad, seed=seed, token_type_ids=token_type_ids, eos=eos)
    names = list(inputs())
    return Architecture(name, "text-encoder", checkpoint,
                        _builder(model_cls, config_cls, {"vocab_size": vocab, **config}, names, outputs, seed, part),
                        inputs, outputs, note, **extra)


def _decoder_arch(name: str, checkpoint: str, model_cls: str, config_cls: str, config: dict[str, Any], vocab: int,
                  seed: int = 0, seq: int = 32, note: str = "", **extra: Any) -> Architecture:
    inputs = _text(vocab, seq, pad=4, seed=seed)
    names = list(inputs())
    cfg = {"vocab_size": vocab, "use_cache": False, **config}
    return Architecture(name, "decoder", checkpoint,
                        _builder(model_cls, config_cls, cfg, names, ("logits",), seed), inputs, ("logits",), note,
                        **extra)


def _vision_arch(name: str, checkpoint: str, model_cls: str, config_cls: str, config: dict[str, Any], size: int,
                 outputs: tuple[str, ...] = ("last_hidden_state", "pooler_output"), seed: int = 0, note: str = "",
                 input_size: int | None = None, **extra: Any) -> Architecture:
    """`size`: the config's image_size; the input is `input_size` square (default: the same)."""
    inputs = _image(input_size or size, seed)
    return Architecture(name, "vision", checkpoint,
                        _builder(model_cls, config_cls, {"image_size": size, **config}, ["pixel_values"], outputs,
                                 seed), inputs, outputs, note, **extra)


# transformers 4.57's causal masks (masking_utils.sdpa_mask_recent_torch) are built with torch.vmap, which torch.jit
# tracing cannot record: the legacy exporter fails on every decoder using them (OPT, with its older mask code, exports)
_VMAP_MASK = {"legacy": "RuntimeError: unordered_map::at"}

_BERT_BASE = {"hidden_size": 768, "num_attention_heads": 12, "intermediate_size": 3072, "num_hidden_layers": 2}
_WAV2VEC2_BASE = {"hidden_size": 768, "num_attention_heads": 12, "intermediate_size": 3072, "num_hidden_layers": 2,
                  "feat_extract_norm": "group", "do_stable_layer_norm": False}

ARCHITECTURES: dict[str, Architecture] = {a.name: a for a in (
    # ------------------------------------------------------------------ text encoders (sequence 128, 16 padded)
    _text_arch("bert", "google-bert/bert-base-uncased", "BertModel", "BertConfig", _BERT_BASE, 30522,
               ("last_hidden_state", "pooler_output"), seed=1, token_type_ids=True),
    _text_arch("roberta", "FacebookAI/roberta-base", "RobertaModel", "RobertaConfig",
               {**_BERT_BASE, "max_position_embeddings": 514, "type_vocab_size": 1, "pad_token_id": 1}, 50265,
               ("last_hidden_state", "pooler_output"), seed=3),
    _text_arch("albert", "albert/albert-base-v2", "AlbertModel", "AlbertConfig",
               {**_BERT_BASE, "embedding_size": 128, "hidden_act": "gelu_new"}, 30000,
               ("last_hidden_state", "pooler_output"), seed=4),
    _text_arch("deberta-v2", "microsoft/deberta-v3-base", "DebertaV2Model", "DebertaV2Config",
               {**_BERT_BASE, "relative_attention": True, "position_buckets": 256, "norm_rel_ebd": "layer_norm",
                "share_att_key": True, "pos_att_type": ["p2c", "c2p"], "max_relative_positions": -1,
                "position_biased_input": False, "type_vocab_size": 0, "layer_norm_eps": 1e-7}, 128100, seed=5),
    _text_arch("t5-encoder", "google-t5/t5-small", "T5EncoderModel", "T5Config",
               {"d_model": 512, "d_kv": 64, "d_ff": 2048, "num_heads": 8, "num_layers": 2,
                "relative_attention_num_buckets": 32, "feed_forward_proj": "relu"}, 32128, seed=6),
    _text_arch("bart-encoder", "facebook/bart-base", "BartModel", "BartConfig",
               {"d_model": 768, "encoder_attention_heads": 12, "encoder_ffn_dim": 3072, "encoder_layers": 2,
                "decoder_attention_heads": 12, "decoder_ffn_dim": 3072, "decoder_layers": 2}, 50265, seed=7,
               part=lambda m: m.get_encoder()),
    # the checkpoint's eos_token_id 2 makes CLIP pool at the largest id: 49407, its real end-of-text token
    _text_arch("clip-text", "openai/clip-vit-base-patch32", "CLIPTextModel", "CLIPTextConfig",
               {"hidden_size": 512, "num_attention_heads": 8, "intermediate_size": 2048, "num_hidden_layers": 2,
                "max_position_embeddings": 77, "eos_token_id": 2}, 49408,
               ("last_hidden_state", "pooler_output"), seed=8, seq=77, pad=10, eos=49407),
    _text_arch("mobilebert", "google/mobilebert-uncased", "MobileBertModel", "MobileBertConfig",
               {"hidden_size": 512, "num_attention_heads": 4, "intermediate_size": 512, "embedding_size": 128,
                "intra_bottleneck_size": 128, "true_hidden_size": 128, "num_feedforward_networks": 4,
                "normalization_type": "no_norm", "use_bottleneck": True, "key_query_shared_bottleneck": True,
                "trigram_input": True, "hidden_act": "relu", "num_hidden_layers": 2}, 30522,
               ("last_hidden_state", "pooler_output"), seed=9),
    # ------------------------------------------------------------------ decoders (sequence 32, 4 padded)
    _decoder_arch("gpt2", "openai-community/gpt2", "GPT2LMHeadModel", "GPT2Config",
                  {"n_embd": 768, "n_head": 12, "n_layer": 2, "n_positions": 1024}, 50257, seed=10,
                  exporter_failures=_VMAP_MASK),
    _decoder_arch("llama", "HuggingFaceTB/SmolLM2-135M", "LlamaForCausalLM", "LlamaConfig",
                  {"hidden_size": 576, "intermediate_size": 1536, "num_attention_heads": 9, "num_key_value_heads": 3,
                   "num_hidden_layers": 2, "rope_theta": 100000.0, "tie_word_embeddings": True,
                   "max_position_embeddings": 8192, "rms_norm_eps": 1e-5}, 49152, seed=11,
                  exporter_failures=_VMAP_MASK),
    _decoder_arch("qwen2", "Qwen/Qwen2.5-0.5B", "Qwen2ForCausalLM", "Qwen2Config",
                  {"hidden_size": 896, "intermediate_size": 4864, "num_attention_heads": 14, "num_key_value_heads": 2,
                   "num_hidden_layers": 2, "rope_theta": 1000000.0, "tie_word_embeddings": True,
                   "max_position_embeddings": 32768, "rms_norm_eps": 1e-6}, 32000, seed=12,
                  exporter_failures=_VMAP_MASK,
                  note="vocabulary 151936 -> 32000 (CI time: the model would be 0.63 GB, 80% of it the tied "
                       "embedding; GPT-2, Phi and OPT keep vocabularies of 50k)"),
    _decoder_arch("mistral", "mistralai/Mistral-7B-v0.1", "MistralForCausalLM", "MistralConfig",
                  {"hidden_size": 1024, "intermediate_size": 3584, "num_attention_heads": 8, "num_key_value_heads": 2,
                   "head_dim": 128, "num_hidden_layers": 2, "rope_theta": 10000.0, "sliding_window": 4096,
                   "max_position_embeddings": 32768}, 32000, seed=13, exporter_failures=_VMAP_MASK,
                  note="widths reduced 4x from Mistral-7B (hidden 4096 -> 1024, intermediate 14336 -> 3584, "
                       "heads 32/8 -> 8/2); head_dim 128, the 4:1 GQA ratio and the vocabulary kept"),
    _decoder_arch("phi", "microsoft/phi-1_5", "PhiForCausalLM", "PhiConfig",
                  {"hidden_size": 1024, "intermediate_size": 4096, "num_attention_heads": 16, "num_hidden_layers": 2,
                   "partial_rotary_factor": 0.5, "max_position_embeddings": 2048}, 51200, seed=14,
                  exporter_failures=_VMAP_MASK,
                  note="widths halved from phi-1_5 (hidden 2048 -> 1024, intermediate 8192 -> 4096, heads "
                       "32 -> 16); head_dim 64, partial rotary 0.5 and the vocabulary kept"),
    _decoder_arch("opt", "facebook/opt-125m", "OPTForCausalLM", "OPTConfig",
                  {"hidden_size": 768, "ffn_dim": 3072, "num_attention_heads": 12, "num_hidden_layers": 2,
                   "word_embed_proj_dim": 768, "max_position_embeddings": 2048}, 50272, seed=15),
    _decoder_arch("gpt-neox", "EleutherAI/pythia-70m", "GPTNeoXForCausalLM", "GPTNeoXConfig",
                  {"hidden_size": 512, "intermediate_size": 2048, "num_attention_heads": 8, "num_hidden_layers": 2,
                   "rotary_pct": 0.25, "use_parallel_residual": True, "max_position_embeddings": 2048}, 50304,
                  seed=16, exporter_failures=_VMAP_MASK),
    _decoder_arch("bloom", "bigscience/bloom-560m", "BloomForCausalLM", "BloomConfig",
                  {"hidden_size": 1024, "n_head": 16, "n_layer": 2}, 32000, seed=17,
                  note="vocabulary 250880 -> 32000 (CI time: 1 GB of tied embedding otherwise)"),
    _decoder_arch("gemma", "google/gemma-2b", "GemmaForCausalLM", "GemmaConfig",
                  {"hidden_size": 1024, "intermediate_size": 8192, "num_attention_heads": 4, "num_key_value_heads": 1,
                   "head_dim": 256, "num_hidden_layers": 2, "hidden_act": "gelu_pytorch_tanh",
                   "max_position_embeddings": 8192}, 32000, seed=18, exporter_failures=_VMAP_MASK,
                  note="widths halved from gemma-2b (hidden 2048 -> 1024, intermediate 16384 -> 8192, heads 8 -> 4), "
                       "vocabulary 256000 -> 32000; head_dim 256 and multi-query attention (1 KV head) kept"),
    # ------------------------------------------------------------------ vision
    _vision_arch("vit", "google/vit-base-patch16-224", "ViTModel", "ViTConfig",
                 {**_BERT_BASE, "patch_size": 16}, 224, seed=20),
    _vision_arch("beit", "microsoft/beit-base-patch16-224", "BeitModel", "BeitConfig",
                 {**_BERT_BASE, "patch_size": 16, "use_relative_position_bias": True, "use_mean_pooling": True,
                  "layer_scale_init_value": 0.1}, 224, seed=22),
    _vision_arch("clip-vision", "openai/clip-vit-base-patch32", "CLIPVisionModel", "CLIPVisionConfig",
                 {**_BERT_BASE, "patch_size": 32}, 224, seed=23),
    _vision_arch("dinov2", "facebook/dinov2-small", "Dinov2Model", "Dinov2Config",
                 {"hidden_size": 384, "num_attention_heads": 6, "mlp_ratio": 4, "num_hidden_layers": 2,
                  "patch_size": 14, "layerscale_value": 1.0}, 518, seed=32, input_size=224,
                 note="the config's image_size 518 (its position embeddings: 37x37) with the 224x224 input its "
                      "image processor crops to, so the graph interpolates them (bicubic) to 16x16"),
    _vision_arch("swin", "microsoft/swin-tiny-patch4-window7-224", "SwinModel", "SwinConfig",
                 {"embed_dim": 96, "depths": [1, 1, 2, 1], "num_heads": [3, 6, 12, 24], "window_size": 7,
                  "patch_size": 4}, 224, seed=24,
                 note="blocks per stage 2/2/6/2 -> 1/1/2/1: the shifted-window block (with its attention mask) "
                      "is the second of a stage, at 14x14 in stage 3; stage 4 (7x7, one window) never shifts"),
    _vision_arch("convnext", "facebook/convnext-tiny-224", "ConvNextModel", "ConvNextConfig",
                 {"hidden_sizes": [96, 192, 384, 768], "depths": [1, 1, 1, 1]}, 224, seed=25,
                 note="one block per stage (3/3/9/3 in the checkpoint): the blocks of a stage are identical and "
                      "downsampling lives between stages"),
    _vision_arch("convnextv2", "facebook/convnextv2-atto-1k-224", "ConvNextV2Model", "ConvNextV2Config",
                 {"hidden_sizes": [40, 80, 160, 320], "depths": [2, 2, 2, 2]}, 224, seed=33,
                 note="blocks per stage 2/2/6/2 -> 2/2/2/2"),
    _vision_arch("resnet", "microsoft/resnet-50", "ResNetModel", "ResNetConfig",
                 {"embedding_size": 64, "hidden_sizes": [256, 512, 1024, 2048], "depths": [2, 2, 2, 2],
                  "layer_type": "bottleneck"}, 224, seed=26, note="blocks per stage 3/4/6/3 -> 2/2/2/2"),
    _vision_arch("regnet", "facebook/regnet-y-040", "RegNetModel", "RegNetConfig",
                 {"embedding_size": 32, "hidden_sizes": [128, 192, 512, 1088], "depths": [2, 2, 2, 2],
                  "groups_width": 64, "layer_type": "y"}, 224, seed=27, note="blocks per stage 2/6/12/2 -> 2/2/2/2"),
    _vision_arch("mobilenetv2", "google/mobilenet_v2_1.0_224", "MobileNetV2Model", "MobileNetV2Config",
                 {"depth_multiplier": 1.0, "tf_padding": True}, 224, seed=28,
                 note="the whole network (its config has no layer count): 17 inverted-residual blocks"),
    _vision_arch("efficientnet", "google/efficientnet-b0", "EfficientNetModel", "EfficientNetConfig",
                 {"width_coefficient": 1.0, "depth_coefficient": 1.0, "hidden_dim": 1280, "dropout_rate": 0.2},
                 224, seed=29, note="the whole B0 network (its depth is the depth coefficient): 16 MBConv blocks"),
    _vision_arch("mobilevit", "apple/mobilevit-xx-small", "MobileViTModel", "MobileViTConfig",
                 {"hidden_sizes": [64, 80, 96], "neck_hidden_sizes": [16, 16, 24, 48, 64, 80, 320],
                  "expand_ratio": 2.0}, 256, seed=30,
                 note="the whole network (its transformer depths 2/4/3 are fixed in the architecture)"),
    _vision_arch("segformer", "nvidia/segformer-b0-finetuned-ade-512-512", "SegformerForSemanticSegmentation",
                 "SegformerConfig", {"hidden_sizes": [32, 64, 160, 256], "depths": [2, 2, 2, 2],
                                     "decoder_hidden_size": 256, "num_labels": 150}, 256, ("logits",), seed=31,
                 note="256x256 input where the checkpoint's preprocessing resizes to 512 (SegformerConfig has no "
                      "image size; the ops are the same, the decode head fuses 1024x64x64, not 1024x128x128)"),
    # ------------------------------------------------------------------ audio (1 s at 16 kHz)
    Architecture("whisper-encoder", "audio", "openai/whisper-base",
                 _builder("WhisperModel", "WhisperConfig",
                          {"d_model": 512, "encoder_attention_heads": 8, "encoder_ffn_dim": 2048, "encoder_layers": 2,
                           "decoder_attention_heads": 8, "decoder_ffn_dim": 2048, "decoder_layers": 2,
                           "num_mel_bins": 80, "max_source_positions": 50, "vocab_size": 51865},
                          ["input_features"], ("last_hidden_state",), 40, part=lambda m: m.get_encoder()),
                 _mel(100), ("last_hidden_state",),
                 note="max_source_positions 1500 -> 50: the encoder takes exactly 2 x that many frames, 100 = 1 s"),
    Architecture("wav2vec2", "audio", "facebook/wav2vec2-base",
                 _builder("Wav2Vec2Model", "Wav2Vec2Config", _WAV2VEC2_BASE, ["input_values"],
                          ("last_hidden_state", "extract_features"), 41),
                 _audio(1), ("last_hidden_state", "extract_features")),
    Architecture("wavlm", "audio", "microsoft/wavlm-base",
                 _builder("WavLMModel", "WavLMConfig", {**_WAV2VEC2_BASE, "num_buckets": 320,
                                                        "max_bucket_distance": 800}, ["input_values"],
                          ("last_hidden_state",), 42),
                 _audio(2), ("last_hidden_state",)),
)}
