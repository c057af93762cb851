#!/usr/bin/python3
"""Builds tests/fixtures/bert_tiny/: a tiny random BERT saved as a Hugging Face checkpoint folder,
plus the hidden states and attention that a PyTorch reference computes for a small batch.

Run with Debian's PyTorch (python3-torch 1.13):  /usr/bin/python3 scripts/make_bert_fixture.py

Writes
  config.json, tokenizer_config.json, vocab.txt   as Hugging Face saves them
  model.safetensors    BertForPreTraining-style names: "bert." prefix, legacy LayerNorm.gamma/beta,
                       plus tensors the encoder must ignore (position_ids, pooler, cls.*)
  expected.safetensors input_ids, token_type_ids, attention_mask (I64 [B, L]),
                       hidden_states.{0..N} [B, L, E] (0 = embeddings output),
                       attentions.{0..N-1} [B, H, L, L] per head, and per layer the
                       intermediates layers.{n}.attention_output (before the residual) and
                       layers.{n}.attention_norm, so a failing test names the first that diverges.

The reference below is written from the published architecture (Devlin et al. 2019; the post-LN
Transformer encoder of Vaswani et al. 2017) and Hugging Face's conventions (formats.md section 2),
without the transformers package. It computes in float64 from the float32 weights, so the expected
values are the exact answer up to float64 rounding; the float32 drift of the same code is printed.
Hugging Face's mask is additive, (1 - m) * finfo.min, as here.
"""
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_writer import write_safetensors  # noqa: E402

SEED = 20240611
CONFIG = {
    "architectures": ["BertForPreTraining"],
    "attention_probs_dropout_prob": 0.1,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "hidden_size": 32,
    "initializer_range": 0.02,
    "intermediate_size": 64,
    "layer_norm_eps": 1e-12,
    "max_position_embeddings": 64,
    "model_type": "bert",
    "num_attention_heads": 4,
    "num_hidden_layers": 2,
    "pad_token_id": 0,
    "position_embedding_type": "absolute",
    "type_vocab_size": 2,
    "vocab_size": None,  # set from the vocabulary
}

SPECIAL = ["[PAD]", "[unused0]", "[unused1]", "[unused2]", "[unused3]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
PUNCTUATION = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
WORDS = """the a an man woman saw see sees astronaut with telescope cat dog sat on mat hello world how
are you i he she it they we is was were and of to in at by for from that this what who
un runn ##want ##ed ##ing ##s ##ly ##er want run running play ##ful moon star sky night""".split()


def vocabulary():
    return SPECIAL + PUNCTUATION + WORDS


# --- a tiny random BERT ---------------------------------------------------------------------------

def random_weights(cfg, gen):
    """Canonical (unprefixed, weight/bias) names -> float32 tensors. Scales are chosen so attention
    is far from uniform and LayerNorm's gamma/beta are far from 1/0: a test of every parameter."""
    E, F, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]

    def normal(*shape, std):
        return (torch.randn(*shape, generator=gen, dtype=torch.float64) * std).float()

    def norm(prefix, w):
        w[prefix + ".weight"] = 1.0 + normal(E, std=0.2)
        w[prefix + ".bias"] = normal(E, std=0.1)

    w = {
        "embeddings.word_embeddings.weight": normal(V, E, std=1.0),
        "embeddings.position_embeddings.weight": normal(cfg["max_position_embeddings"], E, std=0.5),
        "embeddings.token_type_embeddings.weight": normal(cfg["type_vocab_size"], E, std=0.5),
    }
    norm("embeddings.LayerNorm", w)
    for n in range(cfg["num_hidden_layers"]):
        at = f"encoder.layer.{n}."
        for which, std in (("query", 0.35), ("key", 0.35), ("value", 0.2)):
            w[at + f"attention.self.{which}.weight"] = normal(E, E, std=std)
            w[at + f"attention.self.{which}.bias"] = normal(E, std=0.1)
        w[at + "attention.output.dense.weight"] = normal(E, E, std=0.2)
        w[at + "attention.output.dense.bias"] = normal(E, std=0.1)
        norm(at + "attention.output.LayerNorm", w)
        w[at + "intermediate.dense.weight"] = normal(F, E, std=0.2)
        w[at + "intermediate.dense.bias"] = normal(F, std=0.1)
        w[at + "output.dense.weight"] = normal(E, F, std=0.15)
        w[at + "output.dense.bias"] = normal(E, std=0.1)
        norm(at + "output.LayerNorm", w)
    return w


def pretraining_extras(cfg, gen):
    """Tensors of BertForPreTraining that the encoder does not use (it must ignore them)."""
    E, V = cfg["hidden_size"], cfg["vocab_size"]
    r = lambda *s: (torch.randn(*s, generator=gen) * 0.1).float()
    return {
        "bert.embeddings.position_ids": torch.arange(cfg["max_position_embeddings"]).unsqueeze(0),
        "bert.pooler.dense.weight": r(E, E), "bert.pooler.dense.bias": r(E),
        "cls.predictions.bias": r(V),
        "cls.predictions.transform.dense.weight": r(E, E), "cls.predictions.transform.dense.bias": r(E),
        "cls.predictions.transform.LayerNorm.gamma": 1 + r(E), "cls.predictions.transform.LayerNorm.beta": r(E),
        "cls.seq_relationship.weight": r(2, E), "cls.seq_relationship.bias": r(2),
    }


def hub_name(name):
    """bert-base-uncased's spelling: "bert." prefix and LayerNorm.gamma/beta."""
    if ".LayerNorm." in name:
        name = name.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")
    return "bert." + name


# --- the reference encoder ------------------------------------------------------------------------

def layer_norm(x, gamma, beta, eps):
    # (x - mean) / sqrt(var + eps) * gamma + beta, biased variance over the last dimension
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * gamma + beta


def dense(x, w, p):  # nn.Linear: x W^T + b
    return x @ w[p + ".weight"].T + w[p + ".bias"]


def gelu(x):  # "gelu": exact, 0.5 x (1 + erf(x / sqrt 2))
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def bert_encoder(w, cfg, input_ids, token_type_ids, attention_mask, dtype):
    """Returns hidden states (N + 1), per-head attention (N) and per-layer intermediates."""
    w = {k: v.to(dtype) for k, v in w.items()}
    E, H, eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg["layer_norm_eps"]
    D = E // H
    B, L = input_ids.shape
    x = w["embeddings.word_embeddings.weight"][input_ids] + w["embeddings.token_type_embeddings.weight"][token_type_ids]
    x = x + w["embeddings.position_embeddings.weight"][torch.arange(L)]
    h = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
    # extended mask [B, 1, 1, L]: 0 where attended, finfo.min where padded
    additive = (1.0 - attention_mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min
    hidden, attentions, inter = [h], [], {}
    for n in range(cfg["num_hidden_layers"]):
        at = f"encoder.layer.{n}."
        heads = lambda t: t.view(B, L, H, D).transpose(1, 2)  # [B, H, L, D]
        q = heads(dense(h, w, at + "attention.self.query"))
        k = heads(dense(h, w, at + "attention.self.key"))
        v = heads(dense(h, w, at + "attention.self.value"))
        scores = q @ k.transpose(-1, -2) / math.sqrt(D) + additive
        probs = torch.softmax(scores, dim=-1)
        context = (probs @ v).transpose(1, 2).reshape(B, L, E)
        a = dense(context, w, at + "attention.output.dense")
        u = layer_norm(a + h, w[at + "attention.output.LayerNorm.weight"], w[at + "attention.output.LayerNorm.bias"], eps)
        f = dense(gelu(dense(u, w, at + "intermediate.dense")), w, at + "output.dense")
        h = layer_norm(f + u, w[at + "output.LayerNorm.weight"], w[at + "output.LayerNorm.bias"], eps)
        hidden.append(h)
        attentions.append(probs)
        inter[f"layers.{n}.attention_output"] = a
        inter[f"layers.{n}.attention_norm"] = u
    return hidden, attentions, inter


def check_attention_against_torch(w, cfg, hidden, attentions, attention_mask):
    """Second opinion on the attention above: torch's own nn.MultiheadAttention (packed Q, K, V
    and a key_padding_mask) must give the same per-head weights."""
    E, H = cfg["hidden_size"], cfg["num_attention_heads"]
    for n in range(cfg["num_hidden_layers"]):
        at = f"encoder.layer.{n}.attention."
        mha = torch.nn.MultiheadAttention(E, H, batch_first=True).double()
        with torch.no_grad():
            mha.in_proj_weight.copy_(torch.cat([w[at + f"self.{x}.weight"] for x in ("query", "key", "value")]))
            mha.in_proj_bias.copy_(torch.cat([w[at + f"self.{x}.bias"] for x in ("query", "key", "value")]))
            mha.out_proj.weight.copy_(w[at + "output.dense.weight"])
            mha.out_proj.bias.copy_(w[at + "output.dense.bias"])
        x = hidden[n]
        _, probs = mha(x, x, x, key_padding_mask=attention_mask == 0, need_weights=True,
                       average_attn_weights=False)
        diff = (probs - attentions[n]).abs().max().item()
        assert diff < 1e-12, f"layer {n}: reference attention differs from nn.MultiheadAttention by {diff}"


def encode(vocab, text):
    index = {t: i for i, t in enumerate(vocab)}
    return [index[t] for t in text.split()]


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "bert_tiny")
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    vocab = vocabulary()
    cfg = dict(CONFIG, vocab_size=len(vocab))

    weights = random_weights(cfg, gen)
    checkpoint = {hub_name(n): t for n, t in weights.items()}
    checkpoint.update(pretraining_extras(cfg, gen))

    # A batch of two: a sentence pair, and a short sentence padded to the same length.
    first = encode(vocab, "[CLS] the man saw the astronaut [SEP] with a telescope . [SEP]")
    second = encode(vocab, "[CLS] hello world ! [SEP]")
    L = len(first)
    pad = vocab.index("[PAD]")
    input_ids = torch.tensor([first, second + [pad] * (L - len(second))])
    token_type_ids = torch.tensor([[0] * 7 + [1] * (L - 7), [0] * L])
    attention_mask = torch.tensor([[1] * L, [1] * len(second) + [0] * (L - len(second))])

    hidden, attentions, inter = bert_encoder(weights, cfg, input_ids, token_type_ids, attention_mask, torch.float64)
    check_attention_against_torch({k: v.double() for k, v in weights.items()}, cfg, hidden, attentions, attention_mask)
    hidden32, attentions32, _ = bert_encoder(weights, cfg, input_ids, token_type_ids, attention_mask, torch.float32)
    drift = max(max((a.double() - b).abs().max().item() for a, b in zip(hidden32, hidden)),
                max((a.double() - b).abs().max().item() for a, b in zip(attentions32, attentions)))

    expected = {"input_ids": input_ids, "token_type_ids": token_type_ids, "attention_mask": attention_mask}
    expected.update({f"hidden_states.{i}": h.float() for i, h in enumerate(hidden)})
    expected.update({f"attentions.{i}": a.float() for i, a in enumerate(attentions)})
    expected.update({k: v.float() for k, v in inter.items()})
    meta = {"script": "scripts/make_bert_fixture.py", "seed": SEED, "torch": torch.__version__,
            "reference": "float64, additive finfo.min mask", "float32_drift": f"{drift:.3e}"}

    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": True, "model_max_length": cfg["max_position_embeddings"]}, f, indent=2)
        f.write("\n")
    with open(os.path.join(out_dir, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("".join(t + "\n" for t in vocab))
    write_safetensors(os.path.join(out_dir, "model.safetensors"), checkpoint, {"format": "pt"})
    write_safetensors(os.path.join(out_dir, "expected.safetensors"), expected, meta)
    print(f"wrote {out_dir}: vocab {len(vocab)}, {len(checkpoint)} checkpoint tensors, "
          f"float32 drift from the float64 reference {drift:.3e}")


if __name__ == "__main__":
    main()
