"""A GGUF file's metadata as an architecture: the KV cache, FLOPs and active parameters.

Each case is a tiny Hugging Face config and the GGUF file llama.cpp's convert_hf_to_gguf.py
writes for it, written here with the pinned gguf package's GGUFWriter: the same tensor names
and shapes (``blk.N.attn_q``, experts stacked as ``(experts, out, in)``, DeepSeek's kv_b split
into per-head ``attn_k_b``/``attn_v_b``, a 1-element gate squeezed flat) and the same metadata
keys (``head_count_kv``, ``key_length``, ``expert_used_count``, MLA's ``key_length_mla``).
The GGUF's figures must equal those of the config.json (oracle-tested against transformers in
test_architectures_*), and hand calculations written here.

KV cache rule: llama.cpp's ``llama_kv_cache`` allocates per layer ``n_embd_k_gqa + n_embd_v_gqa``
elements per cell (``key_length × head_count_kv`` each, llama-hparams.cpp), and for an MLA
model (``is_mla()``) K only: ``key_length = kv_lora_rank + rope dims`` with one key/value head.
gguf-parser-go's estimate is the same rule for the others (``EmbeddingKeyGQA = key_length ×
head_count_kv``, the value's alike, × context × layers). Sliding-window layers keep the window
(llama.cpp pads its SWA cache by a micro-batch; paramcount keeps min(context, window), as the
config path does).
"""

from __future__ import annotations

import gguf
import numpy as np
import pytest

import paramcount
from paramcount.cli import main
from paramcount.memory.facts import ModelFacts
from paramcount.memory.kv import kv_cache_bytes
from paramcount.sources.hf import from_dict

CONTEXT, SEQ = 64, 16
H, V = 64, 100  # hidden size and vocabulary of every case


def write_gguf(path, arch: str, meta: dict, tensors: dict[str, tuple[int, ...]]) -> None:
    """A GGUF file of zeros: ``meta`` maps GGUFWriter methods (add_head_count) to values."""
    w = gguf.GGUFWriter(str(path), arch)
    for method, value in meta.items():
        getattr(w, f"add_{method}")(value)
    for name, shape in tensors.items():
        w.add_tensor(name, np.zeros(shape, np.float16))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def base_meta(c: dict) -> dict:
    """What TextModel.set_gguf_parameters writes for every architecture."""
    heads = c["num_attention_heads"]
    meta = {"context_length": c.get("max_position_embeddings", 128),
            "embedding_length": c["hidden_size"], "block_count": c["num_hidden_layers"],
            "feed_forward_length": c["intermediate_size"], "head_count": heads,
            "head_count_kv": c.get("num_key_value_heads", heads)}
    if "head_dim" in c:
        meta["key_length"] = meta["value_length"] = c["head_dim"]
    if "num_local_experts" in c or "num_experts" in c:
        meta["expert_count"] = c.get("num_local_experts", c.get("num_experts"))
    if "num_experts_per_tok" in c:
        meta["expert_used_count"] = c["num_experts_per_tok"]
    return meta


def attention(c: dict, i: int, bias: bool = False, qk_norm: bool = False) -> dict:
    heads, kv = c["num_attention_heads"], c.get("num_key_value_heads", c["num_attention_heads"])
    hd = c.get("head_dim", H // heads)
    out = {f"blk.{i}.attn_q.weight": (heads * hd, H), f"blk.{i}.attn_k.weight": (kv * hd, H),
           f"blk.{i}.attn_v.weight": (kv * hd, H), f"blk.{i}.attn_output.weight": (H, heads * hd)}
    if bias:
        out |= {f"blk.{i}.attn_{p}.bias": (n,) for p, n in
                (("q", heads * hd), ("k", kv * hd), ("v", kv * hd))}
    if qk_norm:
        out |= {f"blk.{i}.attn_q_norm.weight": (hd,), f"blk.{i}.attn_k_norm.weight": (hd,)}
    return out


def dense(i: int, inter: int, prefix: str = "ffn", suffix: str = "") -> dict:
    return {f"blk.{i}.{prefix}_gate{suffix}.weight": (inter, H),
            f"blk.{i}.{prefix}_up{suffix}.weight": (inter, H),
            f"blk.{i}.{prefix}_down{suffix}.weight": (H, inter)}


def experts(i: int, count: int, inter: int) -> dict:
    """Experts stacked by convert_hf_to_gguf.py: one (experts, out, in) tensor per matrix."""
    return {f"blk.{i}.ffn_gate_inp.weight": (count, H),
            f"blk.{i}.ffn_gate_exps.weight": (count, inter, H),
            f"blk.{i}.ffn_up_exps.weight": (count, inter, H),
            f"blk.{i}.ffn_down_exps.weight": (count, H, inter)}


def ends(c: dict, norms=("attn_norm", "ffn_norm")) -> tuple[dict, dict]:
    first = {"token_embd.weight": (V, H)}
    last = {"output_norm.weight": (H,)}
    if not c.get("tie_word_embeddings", False):
        last["output.weight"] = (V, H)
    return first, last


def model(c: dict, block) -> dict:
    first, last = ends(c)
    out = dict(first)
    for i in range(c["num_hidden_layers"]):
        out |= block(i)
    return out | last


def llama_like(c: dict, bias=False, qk_norm=False, sandwich=False, moe=None) -> dict:
    def block(i):
        b = {f"blk.{i}.attn_norm.weight": (H,), **attention(c, i, bias, qk_norm),
             f"blk.{i}.ffn_norm.weight": (H,)}
        if sandwich:  # Gemma 2/3
            b |= {f"blk.{i}.post_attention_norm.weight": (H,),
                  f"blk.{i}.post_ffw_norm.weight": (H,)}
        return b | (moe(i) if moe else dense(i, c["intermediate_size"]))
    return model(c, block)


# -- the cases: (HF config, gguf arch, extra metadata, tensors) ------------------------------

def _llama():
    c = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": H,
         "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
         "intermediate_size": 128, "vocab_size": V}
    return c, "llama", {}, llama_like(c)


def _qwen2():
    c = {"model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"], "hidden_size": H,
         "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 1,
         "intermediate_size": 96, "vocab_size": V, "tie_word_embeddings": True}
    return c, "qwen2", {}, llama_like(c, bias=True)


def _qwen3():
    c = {"model_type": "qwen3", "architectures": ["Qwen3ForCausalLM"], "hidden_size": H,
         "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
         "head_dim": 32, "intermediate_size": 96, "vocab_size": V}
    return c, "qwen3", {}, llama_like(c, qk_norm=True)


def _gemma2():
    c = {"model_type": "gemma2", "architectures": ["Gemma2ForCausalLM"], "hidden_size": H,
         "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2,
         "head_dim": 16, "intermediate_size": 96, "vocab_size": V, "sliding_window": 8,
         "tie_word_embeddings": True}
    return c, "gemma2", {"sliding_window": 8}, llama_like(c, sandwich=True)


def _gemma3():
    c = {"model_type": "gemma3_text", "architectures": ["Gemma3ForCausalLM"], "hidden_size": H,
         "num_hidden_layers": 6, "num_attention_heads": 4, "num_key_value_heads": 1,
         "head_dim": 16, "intermediate_size": 96, "vocab_size": V, "sliding_window": 8,
         "tie_word_embeddings": True}
    return c, "gemma3", {"sliding_window": 8}, llama_like(c, qk_norm=True, sandwich=True)


def _mixtral():
    c = {"model_type": "mixtral", "architectures": ["MixtralForCausalLM"], "hidden_size": H,
         "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
         "intermediate_size": 48, "vocab_size": V, "num_local_experts": 4,
         "num_experts_per_tok": 2, "sliding_window": None}
    return c, "llama", {}, llama_like(c, moe=lambda i: experts(i, 4, 48))


def _qwen2moe():
    c = {"model_type": "qwen2_moe", "architectures": ["Qwen2MoeForCausalLM"], "hidden_size": H,
         "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 4,
         "intermediate_size": 96, "moe_intermediate_size": 32, "vocab_size": V,
         "num_experts": 4, "num_experts_per_tok": 2, "shared_expert_intermediate_size": 80}

    def moe(i):  # the shared expert's one-output gate is squeezed to (hidden,)
        return experts(i, 4, 32) | dense(i, 80, suffix="_shexp") | {
            f"blk.{i}.ffn_gate_inp_shexp.weight": (H,)}
    meta = {"expert_feed_forward_length": 32, "expert_shared_feed_forward_length": 80}
    return c, "qwen2moe", meta, llama_like(c, bias=True, moe=moe)


def _qwen3moe():
    c = {"model_type": "qwen3_moe", "architectures": ["Qwen3MoeForCausalLM"], "hidden_size": H,
         "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
         "head_dim": 16, "intermediate_size": 96, "moe_intermediate_size": 32,
         "vocab_size": V, "num_experts": 8, "num_experts_per_tok": 2}
    return (c, "qwen3moe", {"expert_feed_forward_length": 32},
            llama_like(c, qk_norm=True, moe=lambda i: experts(i, 8, 32)))


RANK, NOPE, ROPE, VDIM = 16, 8, 4, 8  # DeepSeek's kv_lora_rank and head widths


def _deepseek2():
    c = {"model_type": "deepseek_v2", "architectures": ["DeepseekV2ForCausalLM"],
         "hidden_size": H, "num_hidden_layers": 3, "num_attention_heads": 4,
         "num_key_value_heads": 4, "intermediate_size": 96, "moe_intermediate_size": 16,
         "vocab_size": V, "q_lora_rank": None, "kv_lora_rank": RANK, "qk_nope_head_dim": NOPE,
         "qk_rope_head_dim": ROPE, "v_head_dim": VDIM, "n_routed_experts": 4,
         "num_experts_per_tok": 2, "n_shared_experts": 2, "first_k_dense_replace": 1}
    heads = 4

    def block(i):
        b = {f"blk.{i}.attn_norm.weight": (H,),
             f"blk.{i}.attn_q.weight": (heads * (NOPE + ROPE), H),
             f"blk.{i}.attn_kv_a_mqa.weight": (RANK + ROPE, H),
             f"blk.{i}.attn_kv_a_norm.weight": (RANK,),
             f"blk.{i}.attn_k_b.weight": (heads, RANK, NOPE),  # kv_b split, k_b transposed
             f"blk.{i}.attn_v_b.weight": (heads, VDIM, RANK),
             f"blk.{i}.attn_output.weight": (H, heads * VDIM),
             f"blk.{i}.ffn_norm.weight": (H,)}
        if i < 1:
            return b | dense(i, 96)
        return b | experts(i, 4, 16) | dense(i, 2 * 16, suffix="_shexp")
    # convert_hf_to_gguf.py: MLA "converts into MQA with larger heads" (one kv head)
    meta = base_meta(c) | {
        "head_count_kv": 1, "kv_lora_rank": RANK, "key_length": RANK + ROPE,
        "value_length": RANK, "key_length_mla": NOPE + ROPE, "value_length_mla": VDIM,
        "rope_dimension_count": ROPE, "expert_count": 4, "expert_shared_count": 2,
        "leading_dense_block_count": 1, "expert_feed_forward_length": 16}
    return c, "deepseek2", meta, model(c, block)


def _phi3():
    c = {"model_type": "phi3", "architectures": ["Phi3ForCausalLM"], "hidden_size": H,
         "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
         "intermediate_size": 96, "vocab_size": V, "sliding_window": None}
    q, kv = H, 2 * (H // 4)

    def block(i):  # fused qkv and gate_up, as Phi-3 stores them
        return {f"blk.{i}.attn_norm.weight": (H,), f"blk.{i}.attn_qkv.weight": (q + 2 * kv, H),
                f"blk.{i}.attn_output.weight": (H, q), f"blk.{i}.ffn_norm.weight": (H,),
                f"blk.{i}.ffn_up.weight": (2 * 96, H), f"blk.{i}.ffn_down.weight": (H, 96)}
    return c, "phi3", {}, model(c, block)


CASES = {f.__name__[1:]: f for f in (_llama, _qwen2, _qwen3, _gemma2, _gemma3, _mixtral,
                                      _qwen2moe, _qwen3moe, _deepseek2, _phi3)}


def both(tmp_path, case: str):
    """The config's summary and the GGUF file's."""
    c, arch, extra, tensors = CASES[case]()
    path = tmp_path / f"{case}.gguf"
    write_gguf(path, arch, base_meta(c) | extra, tensors)
    return from_dict(c), paramcount.summarize(path), path


def kv_bytes(s, context=CONTEXT) -> int:
    return kv_cache_bytes(ModelFacts.of(s), context, 1, "fp16")


@pytest.mark.parametrize("case", CASES)
def test_gguf_figures_equal_the_configs(tmp_path, case):
    config, g, _ = both(tmp_path, case)
    assert g.total_params == config.total_params
    assert kv_bytes(g) == kv_bytes(config) > 0
    assert kv_bytes(g, 4) == kv_bytes(config, 4)
    flops = g.flops(seq_len=SEQ)
    assert flops.complete and flops.per_token == config.flops(seq_len=SEQ).per_token
    assert g.figures == config.figures


# -- hand calculations ---------------------------------------------------------------------

def test_llama_gqa_by_hand(tmp_path):
    _, g, _ = both(tmp_path, "llama")
    # 2 layers × (key + value) × 2 kv heads × 16 wide × 64 tokens × 2 bytes
    assert kv_bytes(g) == 2 * 2 * 2 * 16 * CONTEXT * 2
    linear = 64 * 64 + 2 * 32 * 64 + 64 * 64 + 3 * 64 * 128  # q, k, v, o, gate/up/down
    attn = SEQ * 4 * (16 + 16)  # each token scores SEQ keys: 4 heads × (QKᵀ + AV)
    assert g.flops(seq_len=SEQ).per_token == 2 * (2 * (linear + attn) + V * H)
    assert [r.node.name for r in g.rows(depth=1)] == ["token_embd", "blk", "output_norm",
                                                      "output"]
    block = [r.node.name for r in g.rows(depth=3) if r.depth == 3]
    assert block == ["attn_norm", "attn", "ffn_norm", "ffn"]
    assert g.layers[1].repeat == 2


def test_mixtral_active_params_by_hand(tmp_path):
    _, g, _ = both(tmp_path, "mixtral")
    expert = 3 * 48 * 64  # gate, up, down of one expert
    assert g.figures["Active params per token"] == g.total_params - 2 * (4 - 2) * expert
    assert g.figures["Non-embedding params"] == g.total_params - 2 * V * H


def test_qwen2moe_shared_expert_stays_active(tmp_path):
    _, g, _ = both(tmp_path, "qwen2moe")
    assert g.figures["Active params per token"] == g.total_params - 2 * (4 - 2) * 3 * 32 * 64


def test_deepseek2_caches_the_latent_by_hand(tmp_path):
    _, g, _ = both(tmp_path, "deepseek2")
    # K only: kv_lora_rank + rope dims per layer and token, no V (llama.cpp's is_mla)
    assert kv_bytes(g) == 3 * (RANK + ROPE) * CONTEXT * 2
    assert g.figures["Active params per token"] == g.total_params - 2 * (4 - 2) * 3 * 16 * 64


def test_gemma2_windows_half_its_layers_by_hand(tmp_path):
    _, g, _ = both(tmp_path, "gemma2")
    per_token = 2 * 2 * 16  # key + value, 2 kv heads of 16
    assert kv_bytes(g) == 2 * per_token * (8 + CONTEXT) * 2  # 2 windowed + 2 global layers


def test_per_layer_kv_heads_array(tmp_path):
    c, arch, _extra, tensors = CASES["llama"]()
    path = tmp_path / "arr.gguf"
    write_gguf(path, arch, base_meta(c) | {"head_count_kv": [2, 0]}, tensors)
    g = paramcount.summarize(path)
    assert kv_bytes(g) == 2 * 2 * 16 * CONTEXT * 2  # the second layer caches nothing


def test_experts_per_token_unknown_without_expert_used_count(tmp_path):
    c, arch, _extra, tensors = CASES["mixtral"]()
    meta = {k: v for k, v in base_meta(c).items() if k != "expert_used_count"}
    path = tmp_path / "moe.gguf"
    write_gguf(path, arch, meta, tensors)
    g = paramcount.summarize(path)
    assert "Active params per token" not in g.figures
    assert any("experts per token unknown" in n for n in g.notes)
    assert not g.flops(seq_len=SEQ).complete


def test_unknown_architecture_keeps_the_tensors_tree(tmp_path):
    c, _, _, tensors = CASES["llama"]()
    path = tmp_path / "x.gguf"
    write_gguf(path, "rwkv6", base_meta(c), tensors)
    g = paramcount.summarize(path)
    assert sorted(dict(g.weights())) == sorted(tensors)
    assert any("not one paramcount reads from GGUF metadata" in n for n in g.notes)


def test_memory_and_flops_commands(tmp_path, capsys):
    _, g, path = both(tmp_path, "llama")
    assert main(["memory", str(path), "--context", "4096"]) == 0
    out = capsys.readouterr().out
    assert "KV cache" in out
    assert main([str(path), "--flops", "--seq-len", str(SEQ)]) == 0
    out = capsys.readouterr().out
    assert f"Forward FLOPs per token: {g.flops(seq_len=SEQ).per_token:,}" in out


def test_remote_gguf_repo(hub, monkeypatch, tmp_path):
    pytest.importorskip("huggingface_hub")
    from hub_server import Repo

    monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
    _, local, path = both(tmp_path, "qwen3moe")
    hub.repos["org/moe-gguf"] = Repo.with_files({"model.gguf": path.read_bytes()})
    remote = paramcount.summarize("org/moe-gguf")
    assert remote.figures == local.figures
    assert kv_bytes(remote) == kv_bytes(local)


pytest_plugins = ["hub_server"]


def test_an_absurd_block_count_keeps_the_tensors_tree(tmp_path):
    c, arch, _extra, tensors = CASES["llama"]()
    path = tmp_path / "huge.gguf"
    write_gguf(path, arch, base_meta(c) | {"block_count": 2**32 - 1}, tensors)
    g = paramcount.summarize(path)
    assert g.total_params == sum(int(np.prod(s)) for s in tensors.values())
    assert any("block_count 4,294,967,295 for 21 tensors" in n for n in g.notes)
