"""Training: the loop every method runs on (``loop.Trainer``: data stream, run folder, logging,
evaluation schedule, checkpoints, resume, Ctrl-C, speed settings, learning-rate decay, EMA), the
numbered run folders (``runs``) and the commands behind ``train.py`` / ``test.py`` (``cli``)."""
