"""The Hugging Face Space tooling: stage, check and upload the app (`python -m space.deploy`), and rehearse its boot (`bash space/rehearse.sh`). Not part of the Space itself."""
