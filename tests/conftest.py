import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def pytest_addoption(parser):
    parser.addoption("--slow", action="store_true", default=False,
                     help="run the long variants (e.g. many more generated cases in tests/fuzz)")


@pytest.fixture(scope="session")
def small_model(tmp_path_factory):
    """A random BERT (hidden 256, 8 heads of 32, 2 layers, perturbed LayerNorms) saved as a local checkpoint."""
    import torch
    from transformers import BertConfig, BertForQuestionAnswering

    torch.manual_seed(0)
    cfg = BertConfig(hidden_size=256, num_hidden_layers=2, num_attention_heads=8, intermediate_size=1024, vocab_size=1000)
    model = BertForQuestionAnswering(cfg).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" in name:
                p.add_(torch.randn_like(p) * 0.1)
    d = tmp_path_factory.mktemp("small_bert")
    model.save_pretrained(d)
    return d, model
