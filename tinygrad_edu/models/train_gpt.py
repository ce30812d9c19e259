"""Training a GPT on text: next-token prediction (lecture 5), nanoGPT's CPU recipe.

The loop, once per iteration:
  1. cut batch_size random windows of block_size + 1 characters from the text;
     the model reads x = window[:-1] and must predict y = window[1:] (each
     position's next token), so one window teaches block_size predictions;
  2. forward -> cross-entropy cost; backward -> gradients;
  3. clip the gradient's norm at 1.0 (a rare huge step can wreck training);
  4. AdamW step, with the learning rate warmed up linearly, then cosine-decayed.
Every eval_interval iterations the cost is estimated on training and held-out
(validation) text, a line is added to metrics.jsonl, and a checkpoint is saved.

The page reads top to bottom: train_step() (one step of the loop), the settings, the data,
then train(), the loop itself. What the output folder holds and how a run resumes from it
is run_folder.py's business: each save is published as one unit (checkpoint.py: a folder,
then one rename), so a kill at any moment leaves the last whole checkpoint, and running
again resumes it exactly (the random generator's state is saved too). A NaN/inf loss
stops training; so does Ctrl-C, which raises TrainingInterrupted naming the checkpoint kept.

Data parallel: `mpiexec -n N tinygrad-edu train-gpt ...` starts N copies of this loop
(distributed.py, lesson 11). Every copy draws the same global batch of batch_size
windows and keeps its own 1/N of it; after backward the gradients are averaged, so every
copy takes the step one process would take on the whole batch. The lines marked "DP"
are all it takes; rank 0 alone writes the output folder and prints. (With --dropout, each
rank draws the same masks for its own slice, so the random streams stay in step; only
dropout 0 gives exactly the one-process run.)
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, fields

import numpy as np

from .. import distributed as dist
from .. import nn, optim, rng
from ..autograd import no_grad
from ..checkpoint import current_checkpoint, load_optimizer_state
from ..data.shakespeare import load_shakespeare, read_text_file
from ..tokenizer import BPETokenizer, CharTokenizer, load_tokenizer
from . import run_folder
from .gpt import GPT, GPTConfig


def train_step(model: GPT, optimizer: optim.AdamW, x, y, lr: float, grad_clip: float):
    """One step of the loop on the batch x, y (B, T): returns (loss, the gradient's norm).

    forward -> cross-entropy cost; backward -> gradients; clip their norm at grad_clip;
    AdamW step with learning rate lr. A NaN/inf loss or norm takes no step: the caller
    stops (or, with --skip-nonfinite, goes on)."""
    for group in optimizer.param_groups:
        group["lr"] = lr
    _, loss = model(x, y)
    optimizer.zero_grad()
    loss.backward()
    dist.average_gradients(model.parameters())  # DP: the whole batch's gradient, everywhere
    norm = nn.utils.clip_grad_norm_(model.parameters(), grad_clip or math.inf)
    loss_value = dist.mean(loss.item())  # DP: the whole batch's loss
    if math.isfinite(loss_value) and math.isfinite(norm):
        optimizer.step()
    return loss_value, norm


@dataclass
class TrainConfig:
    """Defaults: nanoGPT's shakespeare_char recipe for a CPU (see shared data README)."""

    data: str | None = None  # a UTF-8 text file; None = the embedded tiny Shakespeare
    tokenizer: str = "char"  # "char" (one token per character) or "bpe" (byte-level BPE)
    bpe_vocab_size: int = 512  # with tokenizer="bpe": 256 bytes + this many - 256 merges
    out: str = "out-gpt"
    block_size: int = 64
    batch_size: int = 12
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = False
    max_iters: int = 2000
    learning_rate: float = 1e-3
    min_lr: float = 1e-4
    warmup_iters: int = 100
    lr_decay_iters: int | None = None  # None = max_iters: the cosine ends where training ends
    beta1: float = 0.9
    beta2: float = 0.99
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    eval_interval: int = 250
    eval_iters: int = 20
    val_fraction: float = 0.1
    seed: int = 1337
    resume: bool = True
    skip_nonfinite: bool = False  # a NaN/inf loss or gradient: skip the step (default: stop)
    progress: bool = True

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


def learning_rate(it: int, cfg: TrainConfig) -> float:
    """Linear warm-up for warmup_iters, then cosine decay to min_lr at lr_decay_iters (nanoGPT)."""
    decay_iters = cfg.lr_decay_iters or cfg.max_iters
    return optim.warmup_cosine(it, cfg.warmup_iters, decay_iters, cfg.learning_rate, cfg.min_lr)


class TextData:
    """The text as one long array of token ids, split into train (first 90%) and val."""

    def __init__(self, ids: np.ndarray, block_size: int, val_fraction: float) -> None:
        n = int(len(ids) * (1 - val_fraction))
        self.train, self.val = ids[:n], ids[n:]
        self.block_size = block_size
        for name, part in (("training", self.train), ("validation", self.val)):
            if len(part) <= block_size:
                raise ValueError(
                    f"the {name} text has {len(part)} tokens, not enough for windows of "
                    f"block_size + 1 = {block_size + 1}: use more text or a smaller --block-size"
                )

    def batch(self, split: str, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        """x, y (batch_size, block_size): random windows and the same windows shifted by one."""
        data = self.train if split == "train" else self.val
        starts = rng.generator().integers(0, len(data) - self.block_size, size=batch_size)
        offsets = starts[:, None] + np.arange(self.block_size)  # (B, T)
        return data[offsets].astype(np.int64), data[offsets + 1].astype(np.int64)


@no_grad()
def estimate_loss(model: GPT, data: TextData, cfg: TrainConfig) -> dict[str, float]:
    """Mean cost over eval_iters random batches of each split, in eval mode."""
    model.eval()
    out = {}
    for split in ("train", "val"):
        losses = []
        for _ in range(cfg.eval_iters):
            x, y = data.batch(split, cfg.batch_size)
            losses.append(model(dist.shard(x), dist.shard(y))[1].item())  # DP: my slice
        out[split] = dist.mean(float(np.mean(losses)))  # DP: the mean over all ranks
    model.train()
    return out


def make_optimizer(model: GPT, cfg: TrainConfig) -> optim.AdamW:
    """AdamW with weight decay on matrices (>= 2-D: Linear weights, embeddings) only.

    Decay pulls weights towards zero; biases and LayerNorm gains are left alone
    (decaying a gain towards 0 would just fight the normalisation).
    """
    params = list(model.parameters())
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    groups = [
        {"params": decay, "weight_decay": cfg.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return optim.AdamW(groups, lr=cfg.learning_rate, betas=(cfg.beta1, cfg.beta2))


def train(cfg: TrainConfig, log=print) -> list[dict]:
    """Train (or resume) into cfg.out; returns the metrics written to metrics.jsonl.

    Raises TrainingDiverged if the loss or gradient norm becomes NaN/inf (the last good
    checkpoint stays), unless cfg.skip_nonfinite (then that step is skipped).
    """
    _check_config(cfg)
    dist.local_batch_size(cfg.batch_size)  # DP: refused on every rank if it does not divide
    main = dist.world().is_main
    at = {"iter": None, "before": None}  # where training is, for the message of a Ctrl-C
    try:
        if not main:  # DP: rank 0 alone holds the lock, writes files and logs
            return _train(cfg, lambda *a, **k: None, at, None)
        with run_folder.opened(cfg.out) as ckpt:  # locked; another kind of folder refused
            at["before"] = current_checkpoint(cfg.out)
            return _train(cfg, log, at, ckpt if cfg.resume else None)
    except KeyboardInterrupt as exc:  # (the lock is released by now)
        now = current_checkpoint(cfg.out) if main else None
        ours = cfg.resume or now != at["before"]  # --no-resume: only once it has saved
        raise TrainingInterrupted(at["iter"], now, ours) from exc


def _train(cfg: TrainConfig, log, at: dict, ckpt: str | None) -> list[dict]:
    """The loop: evaluate and save every eval_interval iterations, a train_step between."""
    main = dist.world().is_main
    ckpt = dist.broadcast(ckpt)  # DP: every rank resumes from the checkpoint rank 0 found
    rng.manual_seed(cfg.seed)
    state, metrics = None, []
    if ckpt is not None:
        cfg, state, model, metrics = run_folder.resume(cfg, ckpt, log)
    tok, ids = _load_text_and_tokenizer(cfg, ckpt)
    data = TextData(ids, cfg.block_size, cfg.val_fraction)
    if ckpt is None:
        model = _new_model(cfg, tok.vocab_size)
    elif model.config.vocab_size != tok.vocab_size:
        raise ValueError(
            f"{ckpt}: the model has a vocabulary of {model.config.vocab_size}, the tokenizer "
            f"{tok.vocab_size}: start afresh with --no-resume"
        )
    dist.broadcast_parameters(model.parameters())  # DP: all copies start from rank 0's weights
    optimizer = make_optimizer(model, cfg)
    start = 0
    if state is not None:
        optimizer.load_state_dict(load_optimizer_state(os.path.join(ckpt, "optimizer.safetensors")))
        rng.set_state(state["rng"])  # the very batches a run that never stopped draws
        start = state["iter"]
        if main:
            run_folder.write_metrics(cfg.out, metrics)  # the killed run may not have got to it
        log(f"resuming from {cfg.out} at iteration {start}")
    log(
        f"{model.num_parameters() / 1e6:.2f} M parameters, vocab {tok.vocab_size}, "
        f"{len(data.train):,} training tokens"
    )

    bar = _progress(cfg, start) if main else None
    try:
        tokens_per_iter = cfg.batch_size * cfg.block_size  # the global batch's (all ranks)
        elapsed = metrics[-1]["elapsed_s"] if metrics else 0.0
        window = _Window()  # the steps since the last evaluation
        for it in range(start, cfg.max_iters + 1):
            at["iter"] = it
            saved_already = state is not None and it == start  # with its metrics row
            if (it % cfg.eval_interval == 0 or it == cfg.max_iters) and not saved_already:
                metrics.append(_evaluate(model, data, cfg, it, metrics, elapsed, window, log))
                window = _Window()
                if main:  # DP: one copy of the files
                    _save(cfg, model, optimizer, tok, it, metrics)
            if it == cfg.max_iters:
                break
            t0 = time.perf_counter()
            lr = learning_rate(it, cfg)
            x, y = data.batch("train", cfg.batch_size)  # the global batch: the same on every rank
            loss, norm = train_step(
                model, optimizer, dist.shard(x), dist.shard(y), lr, cfg.grad_clip
            )
            if not (math.isfinite(loss) and math.isfinite(norm)):
                if not cfg.skip_nonfinite:
                    raise TrainingDiverged(
                        f"iteration {it}: loss {loss}, gradient norm {norm} (learning rate "
                        f"{lr:g}): training stopped; the last checkpoint in {cfg.out} is kept "
                        "(a lower --learning-rate helps; --skip-nonfinite skips such steps)"
                    )
                log(f"iteration {it}: loss {loss}, gradient norm {norm}: step skipped")
            dt = time.perf_counter() - t0
            elapsed += dt
            window.add(tokens_per_iter, dt, loss)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.3f}", tok_s=f"{tokens_per_iter / dt:,.0f}")
        return metrics
    finally:
        if bar is not None:
            bar.close()  # (on Ctrl-C too: the message printed next starts a new line)


class _Window:
    """Tokens, seconds and step losses since the last evaluation (for its metrics row)."""

    def __init__(self) -> None:
        self.tokens, self.seconds, self.losses = 0, 0.0, []

    def add(self, tokens: int, seconds: float, loss: float) -> None:
        self.tokens += tokens
        self.seconds += seconds
        self.losses.append(loss)


def _evaluate(model, data, cfg, it: int, metrics, elapsed: float, window: _Window, log) -> dict:
    """Estimate the losses at iteration `it`; refuse a diverged or collapsed model; the row."""
    losses = estimate_loss(model, data, cfg)
    if not all(math.isfinite(v) for v in losses.values()):
        raise TrainingDiverged(
            f"iteration {it}: the estimated loss is {losses}; the last checkpoint "
            f"in {cfg.out} is kept"
        )
    _check_not_collapsed(it, losses, metrics, model.config.vocab_size, cfg)
    row = {
        "iter": it,
        "train_loss": round(losses["train"], 4),
        "val_loss": round(losses["val"], 4),
        "lr": learning_rate(it, cfg),
        "elapsed_s": round(elapsed, 3),
        "tokens_per_s": round(window.tokens / window.seconds, 1) if window.seconds else 0.0,
        # the training steps' own losses since the last row, averaged (None at 0)
        "step_loss": float(np.mean(window.losses)) if window.losses else None,
    }
    log(
        f"iter {it}: train loss {row['train_loss']:.4f}, "
        f"val loss {row['val_loss']:.4f}, {row['tokens_per_s']:,.0f} tokens/s"
    )
    return row


def _save(cfg, model, optimizer, tok, it: int, metrics: list[dict]) -> None:
    for p in model.parameters():  # never publish a diverged model over a good one
        if not np.isfinite(p.data).all():
            raise TrainingDiverged(f"iteration {it}: the weights hold NaN or inf; not saved")
    run_folder.save_checkpoint(cfg, model, optimizer, tok, it, metrics)


# ---- setting up: the text, the tokenizer, a new model -----------------------------------


def _load_text_and_tokenizer(cfg: TrainConfig, ckpt: str | None):
    """The text as token ids; the tokenizer is the checkpoint's when resuming."""
    text = load_shakespeare() if cfg.data is None else read_text_file(cfg.data)
    if ckpt is not None:
        tok = load_tokenizer(os.path.join(ckpt, "tokenizer.json"))
    elif cfg.tokenizer == "char":
        tok = CharTokenizer.from_text(text)
    elif cfg.tokenizer == "bpe":
        tok = BPETokenizer().train(text, cfg.bpe_vocab_size)
    else:
        raise ValueError(f"tokenizer must be 'char' or 'bpe', got {cfg.tokenizer!r}")
    ids = np.asarray(tok.encode(text), dtype=np.uint16 if tok.vocab_size < 65536 else np.int64)
    return tok, ids


def _new_model(cfg: TrainConfig, vocab_size: int) -> GPT:
    return GPT(
        GPTConfig(
            block_size=cfg.block_size,
            vocab_size=vocab_size,
            n_layer=cfg.n_layer,
            n_head=cfg.n_head,
            n_embd=cfg.n_embd,
            dropout=cfg.dropout,
            bias=cfg.bias,
        )
    )


def _progress(cfg: TrainConfig, start: int):
    if not cfg.progress:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=cfg.max_iters, initial=start, desc="train-gpt", unit="it")


def saved_train_config(out: str) -> dict:
    """The settings of the run saved in `out` ({} if none): the CLI resumes with them."""
    keep = set(TrainConfig.field_names()) - {"out", "resume", "progress", "skip_nonfinite"}
    return {k: v for k, v in run_folder.saved_settings(out).items() if k in keep}


# ---- what is refused, and how training stops --------------------------------------------


def _check_config(cfg: TrainConfig) -> None:
    """Refuse settings that would train nonsense, naming the setting (the CLI's flag)."""

    def bad(name: str, why: str) -> ValueError:
        return ValueError(f"--{name.replace('_', '-')} {why}, got {getattr(cfg, name)}")

    for name in ("max_iters", "warmup_iters", "seed"):
        if getattr(cfg, name) < 0:
            raise bad(name, "must be >= 0")
    for name in ("eval_interval", "eval_iters", "batch_size", "block_size", "n_layer"):
        if getattr(cfg, name) < 1:
            raise bad(name, "must be >= 1")
    if not 0.0 < cfg.val_fraction < 1.0:
        raise bad("val_fraction", "must be between 0 and 1 (exclusive)")
    if cfg.lr_decay_iters is not None and (
        cfg.lr_decay_iters < 1 or cfg.lr_decay_iters < cfg.warmup_iters
    ):
        raise bad("lr_decay_iters", f"must be >= 1 and >= --warmup-iters ({cfg.warmup_iters})")
    if not math.isfinite(cfg.grad_clip) or cfg.grad_clip < 0:
        raise bad("grad_clip", "must be a finite number >= 0 (0: no clipping)")
    for name in ("learning_rate", "min_lr", "weight_decay"):
        if not math.isfinite(getattr(cfg, name)) or getattr(cfg, name) < 0:
            raise bad(name, "must be a finite number >= 0")
    if not 0.0 <= cfg.dropout < 1.0:
        raise bad("dropout", "must be in [0, 1)")


def _check_not_collapsed(it: int, losses: dict, metrics: list[dict], vocab: int, cfg) -> None:
    """Refuse to publish a model that has forgotten everything it learned.

    A far too large learning rate does not always give NaN first: the weights can blow up
    into a network that predicts the same flat distribution for every context. Its loss is
    ln(vocab), guessing uniformly, and it is finite, so the NaN check would publish it over
    the good checkpoint. A run whose val loss had been clearly below that (by 0.1 nat) and
    whose train AND val losses are both back at it has collapsed: stop, and keep the last
    checkpoint. (Val loss alone is not enough: a small model overfitting a small text can
    see its val loss rise above ln(vocab) while its train loss keeps falling.)
    """
    uniform = math.log(vocab)
    train, val = losses["train"], losses["val"]
    best = min((r["val_loss"] for r in metrics if r.get("val_loss") is not None), default=None)
    if best is not None and min(train, val) >= uniform - 1e-3 and best <= val - 0.1:
        raise TrainingDiverged(
            f"iteration {it}: train and val losses {train:.4f} and {val:.4f} are "
            f"{'worse than' if min(train, val) > uniform + 0.1 else 'no better than'} guessing "
            f"uniformly (ln {vocab} = {uniform:.4f}), after a val loss of {best:.4f} earlier: "
            f"the model collapsed (learning rate {learning_rate(it - 1, cfg):g}); not saved, "
            f"the last checkpoint in {cfg.out} is kept (a lower --learning-rate helps)"
        )


class TrainingDiverged(RuntimeError):
    """The loss or the gradient's norm became NaN or infinite: training stopped."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) during train(): still a KeyboardInterrupt, which also says where.

    iteration:  the iteration being trained (or evaluated) when it came; None: before
                training began (while the text was read, the tokenizer trained, ...);
    checkpoint: (iteration, folder) of the checkpoint the run folder holds now, or None;
    ours:       whether this run published it, or resumed from it (False: an earlier
                run's, left untouched by a --no-resume run stopped before its first save).
    The folder is always whole: a save is published in one rename (checkpoint.py), and
    the lock is released on the way out.
    """

    def __init__(self, iteration: int | None, checkpoint: tuple[int, str] | None, ours: bool):
        super().__init__(iteration, checkpoint, ours)
        self.iteration, self.checkpoint, self.ours = iteration, checkpoint, ours
