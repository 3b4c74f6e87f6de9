"""Nothing in the project loads a pickle: weights are safetensors, configs JSON or YAML read safely.

The scan covers the importable packages, the benchmarks and the scripts (the tests pickle their own
messages on purpose, to check that Ray can ship them). Every pattern is checked against snippets it
must catch and snippets it must let through, so a pattern that stops matching fails here too.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [p for folder in ("zhijian_core", "services", "benchmarks", "scripts")
           for p in (ROOT / folder).rglob("*.py")]
FORBIDDEN = [
    (re.compile(r"^\s*(import|from)\s+(c?pickle|cPickle|_pickle|dill|cloudpickle|shelve|joblib)\b", re.M),
     "an import of a pickle-based module"),
    (re.compile(r"\b(c?pickle|cPickle|_pickle|dill|cloudpickle)\.(loads?|Unpickler)\b"), "a pickle load"),
    (re.compile(r"\bjoblib\.load\b"), "joblib.load"),
    (re.compile(r"\bshelve\.open\b"), "shelve.open"),
    (re.compile(r"\bmarshal\.loads?\b"), "marshal.load"),
    (re.compile(r"\bread_pickle\("), "pandas read_pickle"),
    (re.compile(r"allow_pickle\s*=\s*True"), "numpy allow_pickle=True"),
    (re.compile(r"weights_only\s*=\s*False"), "torch.load weights_only=False"),
    (re.compile(r"^\s*from\s+torch(\.serialization)?\s+import\s+[^\n]*\bload\b", re.M),
     "torch's load imported bare (the weights_only check cannot see its calls)"),
    (re.compile(r"\btorch\.serialization\.load\("), "torch.serialization.load"),
    (re.compile(r"\byaml\.(unsafe_load|load|load_all|full_load)\("), "yaml.load (use yaml.safe_load)"),
]
TORCH_LOAD = re.compile(r"torch\.load\(([^()]|\([^()]*\))*\)", re.S)

CAUGHT = ["import pickle", "from pickle import loads", "import cPickle", "import dill",
          "from joblib import load", "import joblib", "x = pickle.loads(data)", "pickle.load(f)",
          "cloudpickle.loads(b)", "p = pickle.Unpickler(f)", "joblib.load('m.pkl')",
          "shelve.open('db')", "marshal.loads(b)", "df = pd.read_pickle('x')",
          "np.load(p, allow_pickle=True)", "torch.load(p)", "torch.load(p, map_location='cpu')",
          "torch.load(p, weights_only=False)", "torch.load(open(p, 'rb'), map_location=f(x))",
          "from torch import load", "from torch.serialization import load",
          "torch.serialization.load(f)", "yaml.load(text)", "yaml.unsafe_load(text)",
          "yaml.load(text, Loader=yaml.FullLoader)"]
ALLOWED = ["torch.load(p, map_location='cpu', weights_only=True)", "yaml.safe_load(text)",
           "from torch import Tensor, nn", "np.load(path)", "# never a pickle", "load_file(p)",
           "safetensors.torch.load_model(m, p)", "json.loads(text)", "nothing is unpickled"]


def problems_in(text: str) -> list[str]:
    """What ``text`` does that may load a pickle."""
    found = [what for pattern, what in FORBIDDEN if pattern.search(text)]
    found += [f"{call.group(0)!r} without weights_only=True" for call in TORCH_LOAD.finditer(text)
              if "weights_only=True" not in call.group(0)]
    return found


def test_sources_were_found() -> None:
    assert len(SOURCES) > 40


@pytest.mark.parametrize("snippet", CAUGHT)
def test_the_scan_catches_each_way_to_load_a_pickle(snippet: str) -> None:
    assert problems_in(snippet), snippet


@pytest.mark.parametrize("snippet", ALLOWED)
def test_the_scan_lets_safe_loading_through(snippet: str) -> None:
    assert not problems_in(snippet), snippet


def test_no_pickle_loading_anywhere() -> None:
    problems = [f"{path.relative_to(ROOT)}: {what}" for path in SOURCES
                for what in problems_in(path.read_text())]
    assert not problems, problems
