"""Evaluation: score weights on a split, the refinement on photos, and the design notes' claims (`python -m train.eval.NAME`)."""
