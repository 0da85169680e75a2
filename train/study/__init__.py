"""Measured studies: defaults chosen on the validation split, and the design notes' claims (`python -m train.study.NAME`)."""
