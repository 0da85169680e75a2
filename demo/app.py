"""Placeholder page until the full demo lands (issue: the app)."""
import gradio as gr


def build():
    with gr.Blocks(title="Mamba-GINR on CIFAR-10") as blocks:
        gr.Markdown("# Mamba-GINR on CIFAR-10\nThe side-by-side demo is being built.")
    return blocks


def main():
    build().queue().launch()
