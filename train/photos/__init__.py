"""A real-photo collection for the project (issue 37, item 4): a pinned public repository of photographs,
described file by file in `manifest.json` (sha256, size, split) and re-created by `python -m train.photos.prepare`.

- `common`   — the split rule, the git reader (a local git dir or bare mirror, read at one commit), hashing.
- `manifest` — the tool that wrote manifest.json from the repository (so the choice is reproducible).
- `prepare`  — re-creates data/photos/{train,val,test}/ from the repository, verifying every sha256.
"""
