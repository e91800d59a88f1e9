"""Data: the datasets held in memory as uint8 (``datasets``, with the raw-format readers of
COIL-20 and the 3D sets in ``datasets_extra``), the augmentation ``T`` (``augment``,
``augment_color``) and the labelled subset of few-label mode (``fewlabel``)."""
