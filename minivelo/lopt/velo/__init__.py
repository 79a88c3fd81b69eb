"""VeLO (Metz et al. 2022, arXiv 2211.09760), in the order data flows through one update.

- :mod:`.params`        configuration presets, meta-parameter initialisation, shape checks
- :mod:`.accumulators`  momentum, second moment, factored (Adafactor-style) second moments
- :mod:`.features`      loss features, the 30 per-tensor LSTM features, the 30 MLP inputs
- :mod:`.controller`    cross-tensor mixing, the LSTM cell, the heads (controls, lr_mult)
- :mod:`.mlp`           weight banks -> per-tensor MLP weights, the per-parameter MLP, the step
- :mod:`.state`         the optimizer state (accumulators, LSTM state, loss buffer)
- :mod:`.reference`     one update written out plainly: the oracle the tests and lesson 08 use
- :mod:`.fused`         the same update, restructured for speed and memory (the default)
- :mod:`.optimizer`     :func:`velo`, the optax transform
- :mod:`.checkpoint`    published msgpack ``params`` files, flat ``.npz``, our own format
- :mod:`.download`      an explicit helper that fetches the published weights
- :mod:`.benchmark`     ``python -m minivelo velo-bench``: step time vs Adam, XLA temporaries
"""
