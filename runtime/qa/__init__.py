"""Question answering on top of a compiled BERT program: features, post-processing, SQuAD.

See ``runtime.qa.app`` for the demo/SQuAD entry points and the demo input schema.
"""

from .errors import QAInputError
from .features import DEFAULT_DOC_STRIDE, DEFAULT_MAX_SEQ_LEN, QAExample, Window, load_tokenizer, make_windows
from .postprocess import Answer, SquadPrediction, pipeline_answers, squad_answer
from .squad import SquadDataset, SquadQuestion, exact_match, f1_score, load_squad, normalize_answer, squad_scores
from .app import (
    DEFAULT_INPUTS,
    DEFAULT_MODEL_DIR,
    answer_examples,
    hf_reference_predict,
    load_demo_inputs,
    run_demo,
    run_squad,
    run_windows,
)

__all__ = [
    "QAInputError",
    "DEFAULT_DOC_STRIDE",
    "DEFAULT_MAX_SEQ_LEN",
    "DEFAULT_INPUTS",
    "DEFAULT_MODEL_DIR",
    "QAExample",
    "Window",
    "Answer",
    "SquadPrediction",
    "SquadDataset",
    "SquadQuestion",
    "load_tokenizer",
    "make_windows",
    "pipeline_answers",
    "squad_answer",
    "load_squad",
    "normalize_answer",
    "exact_match",
    "f1_score",
    "squad_scores",
    "load_demo_inputs",
    "run_windows",
    "answer_examples",
    "run_demo",
    "run_squad",
    "hf_reference_predict",
]
