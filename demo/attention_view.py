"""Plots for the page, drawn with matplotlib's Agg canvas (no pyplot state, thread-safe) → RGB arrays."""
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DPI = 100


def _figure(width, height):
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _to_array(fig):
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


def psnr_sigma_plot(sigmas, curves, size, name=""):
    """curves: {model name: [PSNR per σ]} at the size×size input → image."""
    fig = _figure(5.0, 3.2)
    ax = fig.add_subplot()
    styles = {"simplified": ("tab:orange", "o"), "corrected": ("tab:blue", "s")}
    for model, values in curves.items():
        color, marker = styles.get(model, (None, "o"))
        ax.plot(sigmas, values, marker=marker, color=color, label=model)
    ax.set_xlabel("query jitter σ")
    ax.set_ylabel(f"PSNR at {size}×{size} vs input (dB)")
    ax.set_title(f"Jitter robustness{(' — ' + name) if name else ''}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend()
    return _to_array(fig)


def bias_heatmap(bias, marker_query=None):
    """The corrected decoder's spatial bias: queries (the input's N×N raster) × LP tokens → image."""
    fig = _figure(5.0, 3.6)
    ax = fig.add_subplot()
    im = ax.imshow(bias, aspect="auto", cmap="magma", interpolation="nearest")
    ax.set_xlabel(f"LP token (0…{bias.shape[1] - 1})")
    ax.set_ylabel(f"query pixel, raster order (0…{bias.shape[0] - 1})")
    ax.set_title("Corrected: spatial bias −α·(t_q − s_i)² added to the logits", fontsize=9)
    if marker_query is not None:
        ax.axhline(marker_query, color="cyan", lw=0.8)
    fig.colorbar(im, ax=ax, label="logit bias")
    return _to_array(fig)


def pixel_attention_plot(pixel, size, simplified, corrected):
    """Attention of one query over the LP tokens.

    simplified / corrected: dicts from Engine.attention_at for that single query:
    weights (heads, 1, m), content (heads, 1, m), bias (1, m) or None.
    """
    x, y = pixel
    fig = _figure(7.0, 5.2)
    axes = fig.subplots(2, 1)
    ax = axes[0]
    w = simplified["weights"][:, 0]  # (heads, m)
    for h in range(w.shape[0]):
        ax.bar(np.arange(w.shape[1]), w[h], color="tab:orange", alpha=0.8, label="attention (1 head, no bias)")
    ax.set_xlim(-0.5, w.shape[1] - 0.5)
    ax.set_ylabel("weight")
    ax.set_title(f"Simplified: pixel (x={x}, y={y}) of {size}×{size} over its {w.shape[1]} LP tokens", fontsize=9)
    ax.legend(fontsize=8, loc="upper right")

    ax = axes[1]
    w = corrected["weights"][:, 0]  # (heads, m)
    content = corrected["content"][:, 0]
    tokens = np.arange(w.shape[1])
    colors = ["tab:blue", "tab:green", "tab:purple", "tab:red"]
    for h in range(w.shape[0]):
        c = colors[h % len(colors)]
        ax.plot(tokens, w[h], color=c, lw=1.2, label=f"head {h}: with bias")
        ax.plot(tokens, content[h], color=c, lw=0.8, ls="--", alpha=0.7, label=f"head {h}: content only")
    ax.set_xlim(-0.5, w.shape[1] - 0.5)
    ax.set_xlabel("LP token")
    ax.set_ylabel("weight")
    share = ""
    if corrected["bias"] is not None:
        bias = corrected["bias"][0]
        twin = ax.twinx()
        twin.plot(tokens, bias, color="0.4", lw=1.0, ls=":", label="bias row")
        twin.set_ylabel("bias (logit)", color="0.4")
        twin.legend(fontsize=7, loc="lower right")
        share = f" — bias share of the attention: {bias_share(w, content):.0%}"
    ax.set_title(f"Corrected: the same pixel over {w.shape[1]} LP tokens, per head{share}", fontsize=9)
    ax.legend(fontsize=7, loc="upper right", ncol=2)
    return _to_array(fig)


def bias_share(weights, content):
    """How much the bias moves the attention: mean over heads of the total-variation distance
    between the attention with and without it (0 = no effect, 1 = completely different)."""
    return float(np.mean(0.5 * np.abs(weights - content).sum(axis=-1)))


def token_map_plot(maps, model, token, num_lp, grid, bias_centre=None):
    """maps (heads, grid, grid): attention paid to LP token `token` by every query → image."""
    heads = maps.shape[0]
    fig = _figure(max(4.5, 2.6 * heads + 0.8), 3.2)
    axes = np.atleast_1d(fig.subplots(1, heads))
    for h, ax in enumerate(axes):
        im = ax.imshow(maps[h], cmap="viridis", interpolation="nearest", extent=(0, 1, 1, 0))
        ax.set_title(f"head {h}" if heads > 1 else "attention", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        if bias_centre is not None:
            ax.plot(bias_centre[1], bias_centre[0], marker="x", color="red", ms=8, mew=2)
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.suptitle(f"{model}: attention paid to LP token {token} (of 0…{num_lp - 1})\n"
                 f"by every query of a {grid}×{grid} grid" + ("; × = its bias centre" if bias_centre is not None else ""),
                 fontsize=9)
    return _to_array(fig)


def token_bias_centre(token, num_lp, patch_grid):
    """Where the corrected bias pulls LP token i: raster position s_i = (i + 0.5)/m → (y, x) in [0, 1]."""
    idx = min(int((token + 0.5) / num_lp * patch_grid * patch_grid), patch_grid * patch_grid - 1)
    row, col = divmod(idx, patch_grid)
    return (row + 0.5) / patch_grid, (col + 0.5) / patch_grid


def refine_curve_plot(histories, kept, size):
    """histories: {model name: [PSNR at the size×size pixel centres per refinement step]}; kept: {model name:
    the step whose latents are kept} (marked; None: the last) → image."""
    fig = _figure(5.0, 3.0)
    ax = fig.add_subplot()
    styles = {"simplified": "tab:orange", "corrected": "tab:blue"}
    for model, values in histories.items():
        step = (kept or {}).get(model)
        step = len(values) - 1 if step is None else step
        ax.plot(np.arange(len(values)), values, color=styles.get(model),
                label=f"{model}: kept step {step}, {values[step]:.2f} dB")
        ax.plot([step], [values[step]], "o", color=styles.get(model), markersize=5)
    ax.set_xlabel("refinement step (0 = one encoder pass)")
    ax.set_ylabel(f"PSNR, {size}×{size} pixel centres vs input (dB)", fontsize=8)
    ax.set_title("Refinement: PSNR per step, this image", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _to_array(fig)
