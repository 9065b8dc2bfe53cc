"""Encoders (BERT, RoBERTa, DistilBERT, ViT), encoder-decoders (T5, BART, Whisper) and CLIP
against transformers building the same model on the meta device (see
``check_against_transformers``)."""

from __future__ import annotations

import pytest
from test_sources_hf import check_against_transformers

SMALL = {"num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4,
         "intermediate_size": 128}
BERT_LARGE = {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16,
              "intermediate_size": 4096}
CLIP_L14 = {"projection_dim": 768,
            "text_config": {"hidden_size": 768, "intermediate_size": 3072,
                            "num_attention_heads": 12, "num_hidden_layers": 12},
            "vision_config": {"hidden_size": 1024, "intermediate_size": 4096,
                              "num_attention_heads": 16, "num_hidden_layers": 24,
                              "patch_size": 14}}

CASES = {
    # name: (model_type, architecture, fields)
    "bert-mlm": ("bert", "BertForMaskedLM", {}),
    "bert-base": ("bert", "BertModel", {}),
    "bert-large-mlm": ("bert", "BertForMaskedLM", BERT_LARGE),
    "bert-classifier": ("bert", "BertForSequenceClassification", {**SMALL, "num_labels": 3}),
    "bert-pretraining": ("bert", "BertForPreTraining", SMALL),
    "bert-token-classifier": ("bert", "BertForTokenClassification", {
        **SMALL, "id2label": {"0": "O", "1": "B", "2": "I"}}),
    "bert-qa": ("bert", "BertForQuestionAnswering", SMALL),
    "bert-mlm-untied": ("bert", "BertForMaskedLM", {**SMALL, "tie_word_embeddings": False}),
    "bert-cross-attention": ("bert", "BertModel", {**SMALL, "is_decoder": True,
                                                   "add_cross_attention": True}),
    "roberta-base-mlm": ("roberta", "RobertaForMaskedLM", {
        "max_position_embeddings": 514, "type_vocab_size": 1}),
    "roberta-classifier": ("roberta", "RobertaForSequenceClassification", {**SMALL,
                                                                           "num_labels": 4}),
    "roberta-base": ("roberta", "RobertaModel", SMALL),
    "distilbert-mlm": ("distilbert", "DistilBertForMaskedLM", {}),
    "distilbert-classifier": ("distilbert", "DistilBertForSequenceClassification", {
        "n_layers": 2}),
    "distilbert-sinusoidal": ("distilbert", "DistilBertModel", {"n_layers": 2,
                                                                "sinusoidal_pos_embds": True}),
    "vit-base-patch16-224": ("vit", "ViTForImageClassification", {"num_labels": 1000}),
    "vit-base-model": ("vit", "ViTModel", {}),
    "vit-large-patch32-384": ("vit", "ViTForImageClassification", {
        **BERT_LARGE, "image_size": 384, "patch_size": 32, "qkv_bias": False}),
    "vit-rectangular": ("vit", "ViTModel", {**SMALL, "image_size": [64, 32],
                                            "patch_size": [16, 8], "pooler_output_size": 32}),
    "t5-small": ("t5", "T5ForConditionalGeneration", {}),
    "t5-base-model": ("t5", "T5Model", {"d_model": 768, "d_ff": 3072, "num_heads": 12,
                                        "num_layers": 12}),
    "t5-encoder": ("t5", "T5EncoderModel", {"num_layers": 3}),
    "t5-v1.1-gated-encoder": ("t5", "T5EncoderModel", {"feed_forward_proj": "gated-gelu",
                                                       "d_ff": 1024, "num_layers": 8}),
    "bart-large": ("bart", "BartForConditionalGeneration", {}),
    "bart-base-model": ("bart", "BartModel", {
        "d_model": 768, "encoder_layers": 6, "decoder_layers": 6, "encoder_ffn_dim": 3072,
        "decoder_ffn_dim": 3072, "encoder_attention_heads": 12,
        "decoder_attention_heads": 12}),
    "bart-classifier": ("bart", "BartForSequenceClassification", {
        "d_model": 64, "encoder_layers": 2, "decoder_layers": 3, "encoder_attention_heads": 4,
        "decoder_attention_heads": 4, "encoder_ffn_dim": 128, "decoder_ffn_dim": 96}),
    "bart-untied": ("bart", "BartForConditionalGeneration", {
        "d_model": 64, "encoder_layers": 1, "decoder_layers": 1, "encoder_attention_heads": 4,
        "decoder_attention_heads": 4, "tie_word_embeddings": False}),
    "bart-generic-names": ("bart", "BartModel", {  # attribute_map: these are the encoder's
        "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
        "decoder_attention_heads": 4, "decoder_layers": 1}),
    "whisper-generic-names": ("whisper", "WhisperModel", {
        "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
        "decoder_attention_heads": 2}),
    "whisper-tiny": ("whisper", "WhisperForConditionalGeneration", {}),
    "whisper-large-v3": ("whisper", "WhisperForConditionalGeneration", {
        "d_model": 1280, "encoder_layers": 32, "decoder_layers": 32,
        "encoder_attention_heads": 20, "decoder_attention_heads": 20,
        "encoder_ffn_dim": 5120, "decoder_ffn_dim": 5120, "num_mel_bins": 128,
        "vocab_size": 51866}),
    "whisper-model": ("whisper", "WhisperModel", {"encoder_layers": 2, "decoder_layers": 1}),
    "clip-vit-base-patch32": ("clip", "CLIPModel", {}),
    "clip-vit-large-patch14": ("clip", "CLIPModel", CLIP_L14),
    "clip-text": ("clip_text_model", "CLIPTextModel", CLIP_L14["text_config"]),
    "clip-text-projection": ("clip_text_model", "CLIPTextModelWithProjection", {
        "num_hidden_layers": 2, "projection_dim": 256}),
    "clip-vision": ("clip_vision_model", "CLIPVisionModel", {"num_hidden_layers": 2}),
    "clip-vision-projection": ("clip_vision_model", "CLIPVisionModelWithProjection", {
        "num_hidden_layers": 2, "image_size": 336, "patch_size": 14}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_equals_transformers(name):
    model_type, architecture, fields = CASES[name]
    check_against_transformers({"model_type": model_type, "architectures": [architecture],
                                **fields})


# -- issue 16: the encoders people download -----------------------------------------------------

XLMR_BASE = {"vocab_size": 250002, "max_position_embeddings": 514, "type_vocab_size": 1}
ELECTRA_BASE = {"embedding_size": 768, "hidden_size": 768, "num_attention_heads": 12,
                "intermediate_size": 3072}
NEW_CASES = {
    "xlm-roberta-base-mlm": ("xlm-roberta", "XLMRobertaForMaskedLM", XLMR_BASE),
    "xlm-roberta-mlm-untied": ("xlm-roberta", "XLMRobertaForMaskedLM", {
        **SMALL, "tie_word_embeddings": False}),
    "xlm-roberta-defaults": ("xlm-roberta", "XLMRobertaModel", {}),
    "xlm-roberta-classifier": ("xlm-roberta", "XLMRobertaForSequenceClassification", SMALL),
    "xlm-roberta-token-classifier": ("xlm-roberta", "XLMRobertaForTokenClassification",
                                     {**SMALL, "num_labels": 9}),
    "xlm-roberta-qa": ("xlm-roberta", "XLMRobertaForQuestionAnswering", SMALL),
    "electra-small-discriminator": ("electra", "ElectraForPreTraining", {}),
    "electra-base-discriminator": ("electra", "ElectraForPreTraining", ELECTRA_BASE),
    "electra-small-generator": ("electra", "ElectraForMaskedLM", {
        "hidden_size": 64, "num_attention_heads": 1, "intermediate_size": 256}),
    "electra-generator-untied": ("electra", "ElectraForMaskedLM", {
        **SMALL, "embedding_size": 32, "tie_word_embeddings": False}),
    "electra-model": ("electra", "ElectraModel", {**SMALL, "embedding_size": 64}),
    "electra-classifier": ("electra", "ElectraForSequenceClassification", SMALL),
    "electra-token-classifier": ("electra", "ElectraForTokenClassification", SMALL),
    "electra-qa": ("electra", "ElectraForQuestionAnswering", SMALL),
    "albert-base-v2-mlm": ("albert", "AlbertForMaskedLM", {
        "hidden_size": 768, "num_attention_heads": 12, "intermediate_size": 3072}),
    "albert-xxlarge-defaults": ("albert", "AlbertModel", {}),
    "albert-pretraining-groups": ("albert", "AlbertForPreTraining", {
        **SMALL, "num_hidden_layers": 4, "num_hidden_groups": 2, "inner_group_num": 2,
        "embedding_size": 32}),
    "albert-mlm-untied": ("albert", "AlbertForMaskedLM", {**SMALL, "embedding_size": 16,
                                                          "tie_word_embeddings": False}),
    "albert-classifier": ("albert", "AlbertForSequenceClassification", {**SMALL,
                                                                        "num_labels": 3}),
    "albert-token-classifier": ("albert", "AlbertForTokenClassification", SMALL),
    "albert-qa": ("albert", "AlbertForQuestionAnswering", SMALL),
    "all-mpnet-base-v2": ("mpnet", "MPNetModel", {"max_position_embeddings": 514}),
    "mpnet-base-mlm": ("mpnet", "MPNetForMaskedLM", {"max_position_embeddings": 514}),
    "mpnet-mlm-untied": ("mpnet", "MPNetForMaskedLM", {**SMALL, "tie_word_embeddings": False,
                                                       "relative_attention_num_buckets": 16}),
    "mpnet-classifier": ("mpnet", "MPNetForSequenceClassification", {**SMALL, "num_labels": 3}),
    "mpnet-token-classifier": ("mpnet", "MPNetForTokenClassification", SMALL),
    "mpnet-qa": ("mpnet", "MPNetForQuestionAnswering", SMALL),
}


@pytest.mark.parametrize("name", list(NEW_CASES))
def test_new_encoders_equal_transformers(name):
    model_type, architecture, fields = NEW_CASES[name]
    s = check_against_transformers({"model_type": model_type, "architectures": [architecture],
                                    **fields})
    assert "fallback" not in s.meta


V3 = {"relative_attention": True, "pos_att_type": "p2c|c2p", "position_biased_input": False,
      "max_relative_positions": -1, "position_buckets": 256, "norm_rel_ebd": "layer_norm",
      "share_att_key": True, "conv_kernel_size": 0}
DEBERTA_V3_BASE = {**V3, "hidden_size": 768, "num_attention_heads": 12,
                   "intermediate_size": 3072, "num_hidden_layers": 12}
DEBERTA_CASES = {
    "deberta-v3-base": ("DebertaV2Model", DEBERTA_V3_BASE),
    "deberta-v3-base-mlm": ("DebertaV2ForMaskedLM", DEBERTA_V3_BASE),
    "deberta-v2-xlarge-mlm": ("DebertaV2ForMaskedLM", {  # its own position keys, a conv
        "relative_attention": True, "pos_att_type": ["p2c", "c2p"], "position_biased_input":
        False, "max_relative_positions": -1, "position_buckets": 256, "norm_rel_ebd":
        "layer_norm", "share_att_key": True, "conv_kernel_size": 3, "conv_act": "gelu",
        "hidden_size": 1536, "num_attention_heads": 24, "intermediate_size": 6144,
        "num_hidden_layers": 24, "vocab_size": 128100}),
    "defaults": ("DebertaV2Model", {}),
    "unshared-keys": ("DebertaV2Model", {**SMALL, "relative_attention": True,
                                         "pos_att_type": ["c2p"], "share_att_key": False,
                                         "max_relative_positions": 64}),
    "both-unshared-keys": ("DebertaV2ForTokenClassification", {
        **SMALL, "relative_attention": True, "pos_att_type": "p2c|c2p", "type_vocab_size": 2,
        "num_labels": 5}),
    "embedding-size": ("DebertaV2ForMaskedLM", {**SMALL, "embedding_size": 32}),
    "mlm-untied": ("DebertaV2ForMaskedLM", {**SMALL, "tie_word_embeddings": False}),
    "mlm-not-legacy": ("DebertaV2ForMaskedLM", {**SMALL, "legacy": False}),
    "classifier": ("DebertaV2ForSequenceClassification", {**V3, **SMALL, "num_labels": 3,
                                                          "pooler_hidden_size": 64}),
    "qa": ("DebertaV2ForQuestionAnswering", {**V3, **SMALL}),
}


@pytest.mark.parametrize("name", list(DEBERTA_CASES))
def test_deberta_v2_equals_transformers(name):
    architecture, fields = DEBERTA_CASES[name]
    s = check_against_transformers({"model_type": "deberta-v2", "architectures": [architecture],
                                    **fields})
    assert "fallback" not in s.meta


DINOV2_LARGE = {"hidden_size": 1024, "num_attention_heads": 16, "num_hidden_layers": 24,
                "image_size": 518}
VISION_CASES = {
    "deit-base-distilled-patch16-224": ("deit", "DeiTForImageClassificationWithTeacher",
                                        {"num_labels": 1000}),
    "deit-small": ("deit", "DeiTForImageClassification", {
        "hidden_size": 384, "num_attention_heads": 6, "intermediate_size": 1536,
        "num_labels": 1000}),
    "deit-model": ("deit", "DeiTModel", {**SMALL, "image_size": 32, "pooler_output_size": 32}),
    "deit-no-labels": ("deit", "DeiTForImageClassificationWithTeacher", {
        **SMALL, "image_size": 32, "num_labels": 0}),
    "dinov2-large": ("dinov2", "Dinov2Model", DINOV2_LARGE),
    "dinov2-defaults": ("dinov2", "Dinov2Model", {}),
    "dinov2-giant-swiglu": ("dinov2", "Dinov2Model", {
        "hidden_size": 1536, "num_attention_heads": 24, "num_hidden_layers": 40,
        "image_size": 518, "use_swiglu_ffn": True}),
    "dinov2-classifier": ("dinov2", "Dinov2ForImageClassification", {
        **SMALL, "image_size": 56, "num_labels": 1000, "use_swiglu_ffn": True}),
    "dinov2-no-mask-token": ("dinov2", "Dinov2Model", {**SMALL, "image_size": 56,
                                                       "use_mask_token": False}),
    "dinov2-with-registers-base": ("dinov2_with_registers", "Dinov2WithRegistersModel", {
        "image_size": 518, "patch_size": 14}),
    "dinov2-with-registers-classifier": ("dinov2_with_registers",
                                         "Dinov2WithRegistersForImageClassification", {
                                             **SMALL, "num_labels": 3, "image_size": 64}),
}


VISION_CASES.update({
    "convnext-tiny-224": ("convnext", "ConvNextForImageClassification", {"num_labels": 1000}),
    "convnext-large-224": ("convnext", "ConvNextForImageClassification", {
        "hidden_sizes": [192, 384, 768, 1536], "depths": [3, 3, 27, 3], "num_labels": 1000}),
    "convnext-no-layer-scale": ("convnext", "ConvNextModel", {
        "hidden_sizes": [8, 16], "depths": [1, 2], "num_stages": 2,
        "layer_scale_init_value": 0.0, "image_size": 64}),
    "convnextv2-tiny": ("convnextv2", "ConvNextV2ForImageClassification", {"num_labels": 1000}),
    "convnextv2-model": ("convnextv2", "ConvNextV2Model", {
        "hidden_sizes": [8, 16, 24], "depths": [2, 1, 1], "num_stages": 3}),
})


@pytest.mark.parametrize("name", list(VISION_CASES))
def test_vision_transformers_equal_transformers(name):
    model_type, architecture, fields = VISION_CASES[name]
    s = check_against_transformers({"model_type": model_type, "architectures": [architecture],
                                    **fields})
    assert "fallback" not in s.meta


MODERNBERT_LARGE = {"hidden_size": 1024, "intermediate_size": 2624, "num_attention_heads": 16,
                    "num_hidden_layers": 28}
MODERNBERT_CASES = {
    "modernbert-base-mlm": ("ModernBertForMaskedLM", {}),
    "modernbert-large-mlm": ("ModernBertForMaskedLM", MODERNBERT_LARGE),
    "biases-untied": ("ModernBertForMaskedLM", {
        **SMALL, "num_hidden_layers": 4, "norm_bias": True, "attention_bias": True,
        "mlp_bias": True, "decoder_bias": False, "tie_word_embeddings": False}),
    "model": ("ModernBertModel", {**SMALL, "num_hidden_layers": 4,
                                  "global_attn_every_n_layers": 2}),
    "classifier": ("ModernBertForSequenceClassification", {**SMALL, "num_labels": 3,
                                                           "classifier_bias": True}),
    "token-classifier": ("ModernBertForTokenClassification", SMALL),
    "qa": ("ModernBertForQuestionAnswering", SMALL),
}


@pytest.mark.parametrize("name", list(MODERNBERT_CASES))
def test_modernbert_equals_transformers(name):
    architecture, fields = MODERNBERT_CASES[name]
    s = check_against_transformers({"model_type": "modernbert", "architectures": [architecture],
                                    **fields})
    assert "fallback" not in s.meta


SIGLIP_SMALL = {"text_config": {**SMALL, "vocab_size": 100, "projection_size": 32},
                "vision_config": {**SMALL, "image_size": 32, "patch_size": 8}}
SIGLIP_SO400M = {  # google/siglip-so400m-patch14-384
    "text_config": {"hidden_size": 1152, "intermediate_size": 4304, "num_attention_heads": 16,
                    "num_hidden_layers": 27, "vocab_size": 32000},
    "vision_config": {"hidden_size": 1152, "intermediate_size": 4304, "num_attention_heads": 16,
                      "num_hidden_layers": 27, "image_size": 384, "patch_size": 14}}
SIGLIP_CASES = {
    "siglip-base-patch16-224": ("siglip", "SiglipModel", {}),
    "siglip-so400m-patch14-384": ("siglip", "SiglipModel", SIGLIP_SO400M),
    "small": ("siglip", "SiglipModel", SIGLIP_SMALL),
    "classifier": ("siglip", "SiglipForImageClassification", {**SIGLIP_SMALL,
                                                              "num_labels": 10}),
    "text-tower": ("siglip_text_model", "SiglipTextModel", SIGLIP_SMALL["text_config"]),
    # SigLIP 2: flattened patches embedded by a linear layer, up to num_patches of them
    "siglip2-base-patch16-naflex": ("siglip2", "Siglip2Model", {  # google/siglip2-base-...
        "text_config": {"vocab_size": 256000}}),
    "siglip2-so400m-patch16-naflex": ("siglip2", "Siglip2Model", {
        "text_config": {**SIGLIP_SO400M["text_config"], "vocab_size": 256000},
        "vision_config": {**SIGLIP_SO400M["vision_config"], "patch_size": 16,
                          "num_patches": 256}}),
    "siglip2-small": ("siglip2", "Siglip2Model", {
        **SIGLIP_SMALL, "vision_config": {**SMALL, "patch_size": 4, "num_patches": 16}}),
    "siglip2-classifier-no-head": ("siglip2", "Siglip2ForImageClassification", {
        "vision_config": {**SMALL, "patch_size": 4, "num_patches": 9,
                          "vision_use_head": False}, "num_labels": 5}),
    "siglip2-text-tower": ("siglip2_text_model", "Siglip2TextModel",
                           SIGLIP_SMALL["text_config"]),
    "siglip2-vision-tower": ("siglip2_vision_model", "Siglip2VisionModel", {
        **SMALL, "patch_size": 4, "num_patches": 16, "num_channels": 1}),
}


@pytest.mark.parametrize("name", list(SIGLIP_CASES))
def test_siglip_equals_transformers(name):
    model_type, architecture, fields = SIGLIP_CASES[name]
    s = check_against_transformers({"model_type": model_type, "architectures": [architecture],
                                    **fields})
    assert "fallback" not in s.meta


CONV = {"conv_dim": [8, 16], "conv_kernel": [10, 3], "conv_stride": [5, 2],
        "num_conv_pos_embeddings": 16, "num_conv_pos_embedding_groups": 4}
LARGE_LV = {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16,
            "intermediate_size": 4096, "feat_extract_norm": "layer", "conv_bias": True,
            "do_stable_layer_norm": True}
SPEECH_CASES = {
    "wav2vec2-base-960h": ("wav2vec2", "Wav2Vec2ForCTC", {}),
    "wav2vec2-large-xlsr": ("wav2vec2", "Wav2Vec2ForCTC", {**LARGE_LV, "vocab_size": 64}),
    "wav2vec2-no-mask-model": ("wav2vec2", "Wav2Vec2Model", {**SMALL, **CONV,
                                                             "mask_time_prob": 0.0}),
    "wav2vec2-classifier": ("wav2vec2", "Wav2Vec2ForSequenceClassification", {
        **SMALL, **CONV, "num_labels": 7, "use_weighted_layer_sum": True,
        "classifier_proj_size": 32}),
    "hubert-large-ls960-ft": ("hubert", "HubertForCTC", LARGE_LV),
    "hubert-base": ("hubert", "HubertModel", {}),
    "hubert-no-projection-norm": ("hubert", "HubertForSequenceClassification", {
        **SMALL, **CONV, "feat_proj_layer_norm": False}),
    "wavlm-base-plus": ("wavlm", "WavLMModel", {}),
    "wavlm-large": ("wavlm", "WavLMModel", LARGE_LV),
    "wavlm-classifier": ("wavlm", "WavLMForSequenceClassification", {
        **SMALL, **CONV, "use_weighted_layer_sum": True, "num_buckets": 64}),
    "wavlm-ctc": ("wavlm", "WavLMForCTC", {**SMALL, **CONV, "feat_extract_norm": "layer"}),
    # UMT5 is a sequence-to-sequence text model; its cases live here for the shared helper
    "umt5-small-as-built": ("umt5", "UMT5ForConditionalGeneration", {}),
    "umt5-base-encoder": ("umt5", "UMT5EncoderModel", {
        "d_model": 768, "d_ff": 2048, "num_heads": 12, "num_layers": 12,
        "vocab_size": 256384}),
    "umt5-tied-model": ("umt5", "UMT5Model", {"d_model": 32, "num_heads": 2, "d_kv": 16,
                                              "d_ff": 64, "num_layers": 2,
                                              "num_decoder_layers": 3, "vocab_size": 100}),
    "umt5-relu-generation": ("umt5", "UMT5ForConditionalGeneration", {
        "d_model": 32, "num_heads": 2, "d_ff": 64, "num_layers": 2, "vocab_size": 100,
        "feed_forward_proj": "relu"}),
}


@pytest.mark.parametrize("name", list(SPEECH_CASES))
def test_speech_encoders_equal_transformers(name):
    model_type, architecture, fields = SPEECH_CASES[name]
    s = check_against_transformers({"model_type": model_type, "architectures": [architecture],
                                    **fields})
    assert "fallback" not in s.meta


def test_umt5_small_untied_head_by_hand():
    """google/umt5-small says tie_word_embeddings: false; as for T5 v1.1, its checkpoint holds
    an LM head of its own (transformers 5 ties one built from the config, and unties it again
    on loading): the tied total plus one 250,112 × 512 matrix."""
    import paramcount

    doc = {"model_type": "umt5", "architectures": ["UMT5ForConditionalGeneration"]}
    tied = paramcount.summarize(doc).total_params
    untied = paramcount.summarize({**doc, "tie_word_embeddings": False}).total_params
    assert untied - tied == 250112 * 512


def test_albert_shares_its_layer_weights_and_runs_them_per_layer():
    """24 layers over one shared layer: the count of 12 layers, the compute of twice as many.
    One token through a layer: its matrices 4 × 64 × 64 + 2 × 64 × 128 MACs, and attention
    over one key, 64 for the scores and 64 for the mix."""
    import paramcount

    doc = {"model_type": "albert", "architectures": ["AlbertModel"], **SMALL,
           "embedding_size": 64}
    s12 = paramcount.summarize({**doc, "num_hidden_layers": 12})
    s24 = paramcount.summarize({**doc, "num_hidden_layers": 24})
    assert s12.total_params == s24.total_params
    extra = s24.flops(seq_len=1).macs - s12.flops(seq_len=1).macs
    assert extra == 12 * (4 * 64 * 64 + 2 * 64 * 128 + 64 + 64)
