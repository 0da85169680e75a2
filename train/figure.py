"""The ending every log-x study figure shares: axes labelled, legend, grid, saved, closed."""


def save_log_x(fig, ax, path, xlabel, ylabel, **savefig):
    """Log x axis, labels, a small legend and a light grid; saves `fig` to `path` and closes it."""
    import matplotlib.pyplot as plt
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, **savefig)
    plt.close(fig)
