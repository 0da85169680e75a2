"""The Gradio demo: the simplified and the corrected Mamba-GINR side by side."""
