"""What the manifest tool and the prepare command share: the split rule, where a file lands, and a reader of
one commit of a git repository (a work tree, a plain git dir or a bare mirror) through `git cat-file`."""
import hashlib
import subprocess
from pathlib import Path

SPLITS = ("train", "val", "test")
# the deterministic split: the first 8 hex digits of sha256(relative path) as a fraction of 2**32,
# below 0.90 → train, below 0.95 → val, else test (a file keeps its split whatever else the collection holds)
SPLIT_FRACTIONS = {"train": 0.90, "val": 0.05, "test": 0.05}
SPLIT_RULE = ("u = int(sha256(path.encode('utf-8')).hexdigest()[:8], 16) / 2**32 with path the file's path "
              "in the repository (e.g. 'images/x.jpg'); u < 0.90 → train, u < 0.95 → val, else test")
LFS_MAGIC = b"version https://git-lfs"
MANIFEST_FORMAT = 1


def split_of(path, fractions=SPLIT_FRACTIONS):
    """'train' | 'val' | 'test' for a repository path (see SPLIT_RULE)."""
    u = int(hashlib.sha256(path.encode("utf-8")).hexdigest()[:8], 16) / 2 ** 32
    edge = 0.0
    for name in SPLITS:
        edge += fractions[name]
        if u < edge:
            return name
    return SPLITS[-1]


def dest_of(path, split, root):
    """Where a repository file lands under the output folder: '<split>/<path below root>'."""
    rel = Path(path)
    if root:
        rel = rel.relative_to(root)
    return f"{split}/{rel.as_posix()}"


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


class GitError(RuntimeError):
    pass


def _git(git_dir, *args, text=True):
    r = subprocess.run(["git", "--git-dir", str(git_dir), *args], capture_output=True, text=text)
    if r.returncode:
        err = r.stderr if text else r.stderr.decode("utf-8", "replace")
        raise GitError(f"git {' '.join(args)} failed in {git_dir}: {err.strip()}")
    return r.stdout


def find_git_dir(path):
    """The git directory of PATH (a work tree, its .git, or a bare repository), or None when PATH is not one."""
    path = Path(path)
    if not path.is_dir():
        return None
    r = subprocess.run(["git", "-C", str(path), "rev-parse", "--absolute-git-dir"], capture_output=True, text=True)
    if r.returncode:
        return None
    git_dir = Path(r.stdout.strip())
    # `git -C` also answers inside an unrelated enclosing repository: accept only PATH itself or its .git
    if git_dir.resolve() not in (path.resolve(), (path / ".git").resolve()):
        return None
    return git_dir


class GitTree:
    """The files of one commit of a repository, read without a checkout."""

    def __init__(self, git_dir, commit):
        self.git_dir = Path(git_dir)
        try:
            self.commit = _git(self.git_dir, "rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}").strip()
        except GitError:
            raise GitError(f"commit {commit} is not in the repository at {git_dir} "
                           "(fetch it, or give a clone URL as the source)") from None
        self._cat = None

    def commit_date(self):
        return _git(self.git_dir, "show", "-s", "--format=%cI", self.commit).strip()

    def files(self):
        """{path: (blob sha, size in bytes)} of every file of the commit."""
        out = {}
        for line in _git(self.git_dir, "ls-tree", "-r", "-l", "-z", self.commit).split("\0"):
            if not line:
                continue
            meta, path = line.split("\t", 1)
            _mode, kind, blob, size = meta.split()
            if kind == "blob":
                out[path] = (blob, int(size))
        return out

    def read(self, path):
        """The bytes of PATH at the commit, or None when the commit has no such file."""
        if self._cat is None:
            self._cat = subprocess.Popen(["git", "--git-dir", str(self.git_dir), "cat-file", "--batch"],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._cat.stdin.write(f"{self.commit}:{path}\n".encode("utf-8"))
        self._cat.stdin.flush()
        header = self._cat.stdout.readline().split()
        if len(header) != 3 or header[1] != b"blob":
            return None                                         # "<name> missing" (or not a file)
        data = self._cat.stdout.read(int(header[2]))
        self._cat.stdout.read(1)                                # the newline after the content
        return data

    def close(self):
        if self._cat is not None:
            self._cat.stdin.close()
            self._cat.wait()
            self._cat = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
