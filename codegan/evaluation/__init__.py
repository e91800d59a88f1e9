"""Evaluation: the E-based and G-based clustering protocols (``evaluate`` picks one; ``e_based``,
``g_based`` with its real-data ``classifier``), sample grids and generators rebuilt from
checkpoints (``sampling``), the IS / FID protocol (``fakes``, ``inception_tf``) and metric curves
(``plots``)."""
