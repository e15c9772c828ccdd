"""The ``evaluate`` stage: the command (``evaluate``), the ImageNet probe on augmented images
(``augmented_probe``) and the collapse diagnostics and plots of one run (``diagnostics``)."""
