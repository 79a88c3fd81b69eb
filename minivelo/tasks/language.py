"""Character-level language models on the corpus shipped in ``minivelo/data/``.

A batch is ``tokens`` int32 ``[B, T + 1]``: random windows of the corpus. The model reads
``tokens[:, :-1]`` and is scored on predicting ``tokens[:, 1:]`` (mean cross-entropy in
nats per character). The held-out batch is fixed windows from the last 10% of the corpus,
which training never samples.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from minivelo.tasks import datasets, layers
from minivelo.tasks.base import Task
from minivelo.tasks.image import check_positive, check_positive_int, cross_entropy

HELD_OUT_FRACTION = 0.1


def window_sampler(tokens: np.ndarray, batch_size: int, seq_len: int):
    """``sample_batch(key) -> [batch_size, seq_len + 1]`` windows at uniform random starts."""
    tokens = jnp.asarray(tokens)
    last_start = tokens.shape[0] - (seq_len + 1)
    if last_start < 1:
        raise ValueError(f"seq_len {seq_len} is longer than the text ({tokens.shape[0]} chars)")
    offsets = jnp.arange(seq_len + 1)

    def sample_batch(key):
        starts = jax.random.randint(key, (batch_size, 1), 0, last_start + 1)
        return tokens[starts + offsets]  # [B, T + 1]

    return sample_batch


def _split_corpus(seq_len: int, eval_windows: int = 64):
    corpus = datasets.text()
    cut = int(len(corpus.tokens) * (1 - HELD_OUT_FRACTION))
    train, held_out = corpus.tokens[:cut], corpus.tokens[cut:]
    stride = max(1, (len(held_out) - seq_len - 1) // eval_windows)
    starts = np.arange(eval_windows) * stride
    eval_batch = jnp.asarray(held_out[starts[:, None] + np.arange(seq_len + 1)])
    return corpus, train, eval_batch


def _lm_task(name, config, init, logits_fn, train_tokens, eval_batch):
    def loss(params, tokens):
        return cross_entropy(logits_fn(params, tokens[:, :-1]), tokens[:, 1:])

    def accuracy(params, tokens):
        return (logits_fn(params, tokens[:, :-1]).argmax(-1) == tokens[:, 1:]).mean()

    return Task(
        name=name,
        init=init,
        loss=loss,
        sample_batch=window_sampler(train_tokens, config["batch_size"], config["seq_len"]),
        config=config,
        eval_batch=eval_batch,
        accuracy=accuracy,
    )


def _check(batch_size, seq_len, init_scale):
    check_positive_int("batch_size", batch_size)
    check_positive_int("seq_len", seq_len)
    check_positive("init_scale", init_scale)


# ------------------------------------------------------------------------------- LSTM


def lstm_task(
    hidden_size: int = 64,
    embed_size: int = 32,
    seq_len: int = 32,
    batch_size: int = 16,
    init_scale: float = 1.0,
) -> Task:
    """Embedding, one LSTM layer, a linear read-out to the vocabulary."""
    _check(batch_size, seq_len, init_scale)
    check_positive_int("hidden_size", hidden_size)
    check_positive_int("embed_size", embed_size)
    corpus, train, eval_batch = _split_corpus(seq_len)
    vocab = corpus.vocab_size

    def init(key):
        k_emb, k_lstm, k_out = jax.random.split(key, 3)
        return {
            "embed": jax.random.normal(k_emb, (vocab, embed_size)) * init_scale,
            "lstm": layers.init_lstm(k_lstm, embed_size, hidden_size, init_scale),
            "readout": layers.init_dense(k_out, hidden_size, vocab, init_scale),
        }

    def logits_fn(params, inputs):
        h = layers.lstm(params["lstm"], params["embed"][inputs])  # [B, T, H]
        return layers.dense(params["readout"], h)  # [B, T, V]

    config = dict(
        family="text_lstm",
        hidden_size=int(hidden_size),
        embed_size=int(embed_size),
        seq_len=int(seq_len),
        batch_size=int(batch_size),
        init_scale=float(init_scale),
    )
    name = f"text_lstm[h={hidden_size},T={seq_len},bs={batch_size},init={init_scale:.2g}]"
    return _lm_task(name, config, init, logits_fn, train, eval_batch)


def sample_lstm_config(rng: np.random.Generator) -> dict:
    return dict(
        hidden_size=int((32, 64, 128)[rng.integers(3)]),
        embed_size=int((16, 32, 64)[rng.integers(3)]),
        seq_len=int((16, 32, 64)[rng.integers(3)]),
        batch_size=int((8, 16, 32, 64)[rng.integers(4)]),
        init_scale=float(np.exp(rng.uniform(np.log(0.5), np.log(2.0)))),
    )


# ------------------------------------------------------------------------ transformer


def transformer_task(
    d_model: int = 32,
    num_layers: int = 2,
    num_heads: int = 2,
    seq_len: int = 32,
    batch_size: int = 16,
    init_scale: float = 1.0,
) -> Task:
    """A decoder-only transformer: token + learned position embeddings, pre-LN blocks with
    causal attention, a final LayerNorm and an untied read-out (nanoGPT in miniature)."""
    _check(batch_size, seq_len, init_scale)
    check_positive_int("d_model", d_model)
    check_positive_int("num_layers", num_layers)
    check_positive_int("num_heads", num_heads)
    if d_model % num_heads:
        raise ValueError(f"d_model {d_model} is not divisible by num_heads {num_heads}")
    corpus, train, eval_batch = _split_corpus(seq_len)
    vocab = corpus.vocab_size

    def init(key):
        keys = jax.random.split(key, num_layers + 3)
        return {
            "token_embed": jax.random.normal(keys[0], (vocab, d_model)) * 0.1 * init_scale,
            "position_embed": jax.random.normal(keys[1], (seq_len, d_model)) * 0.1 * init_scale,
            **{
                f"block_{i}": layers.init_block(keys[2 + i], d_model, init_scale)
                for i in range(num_layers)
            },
            "ln_final": layers.init_layer_norm(d_model),
            "readout": layers.init_dense(keys[-1], d_model, vocab, init_scale),
        }

    def logits_fn(params, inputs):
        t = inputs.shape[1]
        x = params["token_embed"][inputs] + params["position_embed"][:t]  # [B, T, D]
        for i in range(num_layers):
            x = layers.block(params[f"block_{i}"], x, num_heads)
        return layers.dense(params["readout"], layers.layer_norm(params["ln_final"], x))

    config = dict(
        family="text_transformer",
        d_model=int(d_model),
        num_layers=int(num_layers),
        num_heads=int(num_heads),
        seq_len=int(seq_len),
        batch_size=int(batch_size),
        init_scale=float(init_scale),
    )
    name = (
        f"text_transformer[d={d_model},L={num_layers},H={num_heads},T={seq_len},"
        f"bs={batch_size},init={init_scale:.2g}]"
    )
    return _lm_task(name, config, init, logits_fn, train, eval_batch)


def sample_transformer_config(rng: np.random.Generator) -> dict:
    num_heads = int((1, 2, 4)[rng.integers(3)])
    return dict(
        d_model=int((16, 32, 64)[rng.integers(3)]),  # all divisible by every num_heads
        num_layers=int(rng.integers(1, 4)),
        num_heads=num_heads,
        seq_len=int((16, 32, 64)[rng.integers(3)]),
        batch_size=int((8, 16, 32)[rng.integers(3)]),
        init_scale=float(np.exp(rng.uniform(np.log(0.5), np.log(2.0)))),
    )
