"""Imported first by every script: puts this checkout's src/ (the sparsedp package) first on
sys.path, so jobs always run the code of the workflow that scheduled them."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
