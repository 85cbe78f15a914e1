"""Heads that learn from reviewers: the pure computational core (no I/O, no torch).

Reviewer decisions (tag events) and stored vectors go in; trained, calibrated, versioned
heads, per-segment evaluations, promotion decisions and audit samples come out. Use cases
wire it to the store, the API and the CLI.

* ``dataset``   — decisions → :class:`TrainingExample` / :class:`TrainingSet`, fingerprint
* ``train``     — :func:`train_head`: anchored softmax head, λ by cross-validation, calibrated
* ``head``      — :class:`TunedHead` (a ``Head``) and :class:`TunedHeadRecord` for storage
* ``calibrate`` — temperature and Platt scaling, ECE (15 bins), reliability bins
* ``logit_maps`` — a head's calibration map, chosen by out-of-fold ECE, folded into its weights
* ``evaluate``  — per-segment reports and the promotion :func:`gate`
* ``audit``     — deterministic stratified audit samples, weighted precision, ``audits_needed``
* ``novelty``   — a head's training vectors summarised (prototypes, a distance quantile), so
  audits can stratify tags by how unlike the training data their assets are
* ``solver``, ``optim``, ``losses``, ``stats`` — the numerics underneath
"""
