"""Load a build, prepare weights (through the cache), open a device and run batches."""
from __future__ import annotations

import time

import torch

from .backends import pick_backend
from .build_dir import import_program, load_build
from .checkpoint import find_checkpoint
from .weight_cache import prepared_weights


class Session:
    def __init__(self, build_dir, model: str | None = None, device: str = "auto", log=print, state_dict=None,
                 allow_modified_program: bool = False):
        self.build = load_build(build_dir, allow_modified_program=allow_modified_program, log=log)
        m = self.build.manifest
        # Validate the model against the build before touching any device.
        checkpoint = None if state_dict is not None else find_checkpoint(model or m["model"]["name"], m["model"]["config_hash"],
                                                                        m["model"])
        self.backend = pick_backend(device, log)
        self.ttnn = self.backend.ttnn
        self.program = import_program(self.build, self.ttnn)
        t0 = time.perf_counter()
        if checkpoint is None:          # in-process use (tests, benchmarks): no checkpoint files involved
            host = self.program.prepare_weights(state_dict)
            self.weight_stats = {"source": "state_dict"}
        else:
            self.model_dir = checkpoint.source.directory
            host, self.weight_stats = prepared_weights(self.program, checkpoint, self.backend, log)
        self.weight_stats["total_s"] = time.perf_counter() - t0
        self.device = self.backend.open(m, self.program)
        self.weights = self.program.weights_to_device(host, self.device)
        self._runner = None

    @property
    def batch(self) -> int:
        return self.build.batch

    @property
    def seq_len(self) -> int:
        return self.build.seq_len

    @property
    def type_vocab_size(self) -> int:
        return self.build.manifest["model"].get("type_vocab_size") or 2   # builds before issue 15: BERT's 2

    @property
    def task(self) -> str:
        return self.build.manifest.get("task") or "qa"

    def predict(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor, attention_mask: torch.Tensor):
        """One batch through the program: (start, end) logits for qa, [B, labels] / [B, S, labels] logits for the
        classifiers, [B, hidden] sentence embeddings for embed."""
        if self.type_vocab_size == 1:   # a one-segment model: the tokenizer's second-segment ids do not exist here
            token_type_ids = torch.zeros_like(token_type_ids)
        runner = self.build.runner
        mesh = (self.device,) if runner["trace"] or runner["chips"] > 1 else ()   # mesh programs compose outputs
        if runner["trace"]:
            output = self._traced(input_ids, token_type_ids, attention_mask)
        else:
            inputs = self.program.prepare_inputs(input_ids, token_type_ids, attention_mask, self.device)
            output = self.program.forward(inputs, self.weights)
        args = (output, attention_mask) if self.task == "embed" else (output,)
        result = self.program.postprocess(*args, *mesh)
        if not runner["trace"]:
            self.ttnn.deallocate(output)
        return result

    def _traced(self, input_ids, token_type_ids, attention_mask):
        """The program's TracedRunner: captured on the first batch, replayed for every batch."""
        host = self.program.host_inputs(input_ids, token_type_ids, attention_mask, self.device)
        if self._runner is None:
            self._runner = self.program.TracedRunner(self.device, self.weights, host)
        output = self._runner.submit(host)
        self._runner.synchronize()
        return output

    def l1_peak_bytes_per_core(self) -> int | None:
        peak = getattr(self.device, "l1_peak_bytes_per_core", None)
        return peak() if peak else None

    def close(self) -> None:
        if self._runner is not None:
            self._runner.release()
        self.backend.close(self.device)

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
