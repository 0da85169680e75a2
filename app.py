"""Entry point: `python app.py` (also the Hugging Face Space's app_file)."""
from demo.app import main

if __name__ == "__main__":
    main()
