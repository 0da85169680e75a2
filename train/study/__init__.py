"""Measured studies that choose a default (each `python -m train.study.NAME`; results in train/results/)."""
