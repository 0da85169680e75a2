"""Publishing: export a run to the Hub format with its model card, re-card a folder, upload, collect a GPU call's results."""
