"""Speed target: emulated bert-large QA forward vs HF fp32 eager (same machine, same process).

    python -m tests.emulator.bench_forward [--batch 7] [--layers 24] [--repeat 1]

Builds a random-weight HF ``BertForQuestionAnswering`` (bert-large shape), runs
it in fp32 eager mode, then runs the same weights through a contract-shaped
program (tests/emulator/reference_program.py) on the emulator, and prints both
times, their ratio and the PCC of the start/end logits.  Not collected by
pytest (no ``test_`` prefix).
"""

from __future__ import annotations

import argparse
import time

import torch

import runtime.emulator as emulator
from tests.emulator import reference_program as rp


def hf_model(d: rp.Dims):
    from transformers import BertConfig, BertForQuestionAnswering

    cfg = BertConfig(vocab_size=d.vocab, hidden_size=d.hidden, num_hidden_layers=d.layers,
                     num_attention_heads=d.heads, intermediate_size=d.inter, max_position_embeddings=512,
                     hidden_act="gelu", layer_norm_eps=d.eps)
    torch.manual_seed(0)
    return BertForQuestionAnswering(cfg).eval()


def layer_weights(sd, i):
    p = f"bert.encoder.layer.{i}."
    t = lambda k: sd[p + k].T.contiguous()  # noqa: E731  [in, out]
    return {
        "wq": t("attention.self.query.weight"), "bq": sd[p + "attention.self.query.bias"],
        "wk": t("attention.self.key.weight"), "bk": sd[p + "attention.self.key.bias"],
        "wv": t("attention.self.value.weight"), "bv": sd[p + "attention.self.value.bias"],
        "wo": t("attention.output.dense.weight"), "bo": sd[p + "attention.output.dense.bias"],
        "ln1_g": sd[p + "attention.output.LayerNorm.weight"], "ln1_b": sd[p + "attention.output.LayerNorm.bias"],
        "w1": t("intermediate.dense.weight"), "b1": sd[p + "intermediate.dense.bias"],
        "w2": t("output.dense.weight"), "b2": sd[p + "output.dense.bias"],
        "ln2_g": sd[p + "output.LayerNorm.weight"], "ln2_b": sd[p + "output.LayerNorm.bias"],
    }


def prepare(ttnn, device, d: rp.Dims, sd):
    bf16 = ttnn.bfloat16

    def table(x):
        return ttnn.to_device(ttnn.from_torch(x, dtype=bf16, layout=ttnn.ROW_MAJOR_LAYOUT), device,
                              memory_config=ttnn.DRAM_MEMORY_CONFIG)

    def gamma(x):
        return ttnn.to_device(ttnn.from_torch(x.reshape(1, 1, -1, 32), dtype=bf16, layout=ttnn.ROW_MAJOR_LAYOUT),
                              device, memory_config=ttnn.DRAM_MEMORY_CONFIG)

    qa_w = torch.zeros(d.hidden, 32)
    qa_w[:, :2] = sd["qa_outputs.weight"].T
    qa_b = torch.zeros(1, 1, 1, 32)
    qa_b[..., :2] = sd["qa_outputs.bias"]
    return {
        "word": table(sd["bert.embeddings.word_embeddings.weight"]),
        "type": table(sd["bert.embeddings.token_type_embeddings.weight"]),
        "pos": table(sd["bert.embeddings.position_embeddings.weight"]),
        "emb_g": gamma(sd["bert.embeddings.LayerNorm.weight"]), "emb_b": gamma(sd["bert.embeddings.LayerNorm.bias"]),
        "layers": [rp.prepare_layer(ttnn, device, d, layer_weights(sd, i)) for i in range(d.layers)],
        "qa_w": ttnn.to_device(ttnn.from_torch(qa_w, dtype=ttnn.bfloat8_b, layout=ttnn.TILE_LAYOUT), device,
                               memory_config=ttnn.DRAM_MEMORY_CONFIG),
        "qa_b": ttnn.to_device(ttnn.from_torch(qa_b, dtype=ttnn.bfloat8_b, layout=ttnn.TILE_LAYOUT), device,
                               memory_config=ttnn.DRAM_MEMORY_CONFIG),
    }


def forward(ttnn, device, d: rp.Dims, w, c, ids, types, lengths):
    u32, rm, L1 = ttnn.uint32, ttnn.ROW_MAJOR_LAYOUT, ttnn.L1_MEMORY_CONFIG
    pos = torch.arange(d.seq).expand(d.batch, d.seq)
    t_ids = ttnn.from_torch(ids, dtype=u32, layout=rm, device=device, memory_config=L1)
    t_typ = ttnn.from_torch(types, dtype=u32, layout=rm, device=device, memory_config=L1)
    t_pos = ttnn.from_torch(pos, dtype=u32, layout=rm, device=device, memory_config=L1)
    mask = rp.make_mask(ttnn, device, lengths, d)
    word = ttnn.embedding(t_ids, w["word"], layout=ttnn.TILE_LAYOUT, memory_config=L1)
    typ = ttnn.embedding(t_typ, w["type"], layout=ttnn.TILE_LAYOUT, memory_config=L1)
    wt = ttnn.add(word, typ, memory_config=L1)
    ttnn.deallocate(word)
    ttnn.deallocate(typ)
    posv = ttnn.embedding(t_pos, w["pos"], layout=ttnn.TILE_LAYOUT, memory_config=L1)
    emb = ttnn.layer_norm(posv, residual_input_tensor=wt, weight=w["emb_g"], bias=w["emb_b"], epsilon=d.eps,
                          memory_config=L1)
    ttnn.deallocate(posv)
    ttnn.deallocate(wt)
    x = ttnn.interleaved_to_sharded(emb, c["block_hidden"], ttnn.bfloat8_b)
    ttnn.deallocate(emb)
    for lw in w["layers"]:
        x = rp.encoder_layer(ttnn, x, mask, lw, c, d)
    xi = ttnn.sharded_to_interleaved(x, L1)
    ttnn.deallocate(x)
    logits = ttnn.linear(xi, w["qa_w"], bias=w["qa_b"], memory_config=L1, dtype=ttnn.bfloat16)
    out = ttnn.to_torch(logits).float()
    return out[..., 0], out[..., 1]


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=7)
    ap.add_argument("--layers", type=int, default=24)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--spec", default="wormhole_n300")
    args = ap.parse_args(argv)
    d = rp.Dims(batch=args.batch, layers=args.layers, vocab=30522)
    ttnn = emulator.install()
    emulator.set_device_spec(args.spec)
    model = hf_model(d)
    sd = model.state_dict()
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, d.vocab, (d.batch, d.seq), generator=g)
    types = torch.zeros(d.batch, d.seq, dtype=torch.long)
    lengths = [d.seq - 37 * i % d.seq for i in range(d.batch)]
    att = torch.zeros(d.batch, d.seq, dtype=torch.long)
    for i, n in enumerate(lengths):
        att[i, :n] = 1
    with torch.no_grad():
        model(input_ids=ids, token_type_ids=types, attention_mask=att)  # warm-up
        t = time.perf_counter()
        for _ in range(args.repeat):
            ref = model(input_ids=ids, token_type_ids=types, attention_mask=att)
        hf_s = (time.perf_counter() - t) / args.repeat
    device = ttnn.open_device(device_id=0)
    c = rp.make_configs(ttnn, d)
    t = time.perf_counter()
    w = prepare(ttnn, device, d, sd)
    prep_s = time.perf_counter() - t
    with torch.no_grad():
        t = time.perf_counter()
        for _ in range(args.repeat):
            device.reset_l1_peak()
            start, end = forward(ttnn, device, d, w, c, ids, types, lengths)
        emu_s = (time.perf_counter() - t) / args.repeat
    pcc = torch.corrcoef(torch.stack([torch.cat([start.flatten(), end.flatten()]),
                                      torch.cat([ref.start_logits.flatten(), ref.end_logits.flatten()])]))[0, 1]
    print(f"threads={torch.get_num_threads()} batch={d.batch} layers={d.layers}")
    print(f"HF fp32 eager forward: {hf_s:.2f} s")
    print(f"emulated forward:      {emu_s:.2f} s  (ratio {emu_s / hf_s:.2f}x; weight preparation {prep_s:.1f} s)")
    print(f"logits PCC vs HF fp32: {float(pcc):.5f}; L1 peak per core {device.l1_peak_bytes_per_core()} B")
    ttnn.close_device(device)


if __name__ == "__main__":
    main()
